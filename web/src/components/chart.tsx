import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { perfMark } from '../perf'

interface Props {
  /** Builds options for a width; called once per chart (and again only when `optionsKey` changes). */
  options: (width: number) => uPlot.Options
  optionsKey: string
  data: uPlot.AlignedData
  height: number
  testId?: string
}

/** A uPlot chart created once; data updates use setData, size follows the container, destroy on unmount. */
export function Chart({ options, optionsKey, data, height, testId }: Props) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const latest = useRef(data)
  latest.current = data

  useEffect(() => {
    const el = box.current
    if (!el) return
    const u = new uPlot(options(el.clientWidth || 300), latest.current, el)
    plot.current = u
    const ro = new ResizeObserver(() => u.setSize({ width: el.clientWidth || 300, height }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      u.destroy()
      plot.current = null
    }
  }, [optionsKey, height])

  useEffect(() => {
    plot.current?.setData(data)
    // uPlot draws in a microtask after setData; a frame later it is on the canvas (the UI bench reads the mark).
    if (data[0]?.length) requestAnimationFrame(() => perfMark(`rendered chart${testId ? ` ${testId}` : ''}`))
  }, [data])

  return <div class="chart" ref={box} data-testid={testId} />
}
