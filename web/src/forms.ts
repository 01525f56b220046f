/** The value of the input or select an event came from ('' for anything else): no casts in the handlers. */
export const inputValue = (e: Event) => (e.target instanceof HTMLInputElement ? e.target.value : '')
export const selectValue = (e: Event) => (e.target instanceof HTMLSelectElement ? e.target.value : '')
