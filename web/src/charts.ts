import uPlot from 'uplot'
import { type Fmt, timeTicks } from './format'

/** Chart option factories. Time is in ms everywhere (uPlot `ms: 1`); null values are gaps, never 0. */

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

let measurer: CanvasRenderingContext2D | null = null
/** A label's width in CSS pixels, in the axes' font (uPlot's default: 12px system-ui). */
function textWidth(label: string): number {
  measurer ??= document.createElement('canvas').getContext('2d')
  if (!measurer) return label.length * 7
  measurer.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
  return Math.max(...label.split('\n').map((l) => measurer?.measureText(l).width ?? l.length * 7))
}

/**
 * Whether any two time-axis labels overlap where uPlot centres them (each at its tick), written on the chart's root
 * as `data-x-overlap` with the labels in `data-x-ticks`: the browser tests read it (the labels are drawn on a canvas,
 * so there are no boxes in the page to measure).
 */
function markOverlap(u: uPlot, vals: number[], labels: string[]): void {
  let overlap = false
  for (let i = 1; i < vals.length; i++) {
    const a = u.valToPos(vals[i - 1] ?? 0, 'x')
    const b = u.valToPos(vals[i] ?? 0, 'x')
    if (a + textWidth(labels[i - 1] ?? '') / 2 + 2 > b - textWidth(labels[i] ?? '') / 2) overlap = true
  }
  u.root.dataset.xOverlap = String(overlap)
  u.root.dataset.xTicks = labels.join('|').replace(/\n/g, ' ')
}

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H
const TIME_STEPS = [
  S,
  2 * S,
  5 * S,
  10 * S,
  15 * S,
  30 * S,
  M,
  2 * M,
  5 * M,
  10 * M,
  15 * M,
  30 * M,
  H,
  2 * H,
  3 * H,
  6 * H,
  12 * H,
  D,
  2 * D,
  7 * D,
  14 * D,
  30 * D,
  90 * D,
  365 * D,
]

function axes(fmt: Fmt): uPlot.Axis[] {
  const stroke = css('--muted')
  const grid = { stroke: css('--grid'), width: 1 }
  return [
    {
      stroke,
      grid,
      ticks: grid,
      space: 70,
      // Whole seconds at least: the samples are seconds apart, and sub-second ticks read "07:56:23" several times.
      incrs: TIME_STEPS,
      values: (u, vals, _i, _space, step) => {
        const labels = timeTicks(vals, step)
        markOverlap(u, vals, labels)
        return labels
      },
    },
    {
      stroke,
      grid,
      ticks: grid,
      // As wide as the longest label (a fixed width cut the first digit off "114.3 MiB").
      size: (_u, values) => (values ? 24 + 7.5 * Math.max(3, ...values.map((v) => v.length)) : 50),
      values: (_u, vals, _i, _space, step) =>
        fmt.ticks ? fmt.ticks(vals, step) : vals.map((v) => (v === null ? '' : fmt(v))),
    },
  ]
}

export interface LineSpec {
  label: string
  color: string
}

/** A live chart: lines over a sliding window, no legend values clutter. */
export function liveOptions(
  width: number,
  height: number,
  lines: LineSpec[],
  fmt: Fmt,
  max?: number,
): uPlot.Options {
  return {
    width,
    height,
    ms: 1,
    cursor: { drag: { x: false, y: false } },
    legend: { show: true, live: true },
    scales: {
      x: { time: true },
      y: { range: (_u, lo, hi) => [Math.min(0, lo ?? 0), max ?? Math.max(1, (hi ?? 1) * 1.1)] },
    },
    axes: axes(fmt),
    series: [
      {},
      ...lines.map((l) => ({
        label: l.label,
        stroke: l.color,
        width: 1.5,
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
      })),
    ],
  }
}

/**
 * A history chart: the average line and a min–max band (where a point stands for many samples, the band shows the
 * spikes the average hides). Drag across it to zoom; `onZoom` gets the selected range in ms.
 */
export function historyOptions(
  width: number,
  height: number,
  label: string,
  color: string,
  fmt: Fmt,
  onZoom: (from: number, to: number) => void,
  /** The y range when it is fixed (0–100 for a percentage); otherwise it follows the data. */
  yRange?: [number, number],
  /** The time window shown, whatever part of it has data (1 h is an hour, even when only minutes have samples). */
  xWindow?: () => [number, number],
): uPlot.Options {
  return {
    width,
    height,
    ms: 1,
    cursor: { drag: { x: true, y: false, setScale: false } },
    select: { show: true, left: 0, top: 0, width: 0, height: 0 },
    scales: {
      x: { time: true, ...(xWindow ? { range: (): uPlot.Range.MinMax => xWindow() } : {}) },
      ...(yRange ? { y: { range: (): uPlot.Range.MinMax => yRange } } : {}),
    },
    axes: axes(fmt),
    series: [
      {},
      { label, stroke: color, width: 1.5, value: (_u, v) => (v === null ? '–' : fmt(v)) },
      {
        label: 'min',
        stroke: 'transparent',
        points: { show: false },
        value: (_u, v) => (v === null ? '–' : fmt(v)),
      },
      {
        label: 'max',
        stroke: 'transparent',
        points: { show: false },
        value: (_u, v) => (v === null ? '–' : fmt(v)),
      },
    ],
    bands: [{ series: [3, 2], fill: `${color}33` }],
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width < 5) return
          const from = u.posToVal(u.select.left, 'x')
          const to = u.posToVal(u.select.left + u.select.width, 'x')
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
          onZoom(from, to)
        },
      ],
    },
  }
}

/** Aligns several [time, values] tables on one time axis (a line without a sample at a time has a gap there). */
export function uPlotJoin(tables: uPlot.AlignedData[]): uPlot.AlignedData {
  return uPlot.join(tables)
}

/** Several lines on one history chart (one y axis: they share a unit); dashed ones are a previous period. */
export function multiOptions(
  width: number,
  height: number,
  lines: Array<LineSpec & { dash?: boolean }>,
  fmt: Fmt,
  onZoom: (from: number, to: number) => void,
  yRange?: [number, number],
  xWindow?: () => [number, number],
): uPlot.Options {
  const single = historyOptions(width, height, '', '#000', fmt, onZoom, yRange, xWindow)
  return {
    ...single,
    series: [
      {},
      ...lines.map((l) => ({
        label: l.label,
        stroke: l.color,
        width: 1.5,
        ...(l.dash ? { dash: [6, 4] } : {}),
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
      })),
    ],
    bands: [],
  }
}

export interface Marker {
  ts: number
  color: string
}

/** Vertical lines at event times (a container's start, die, OOM, restart…) on a time chart. */
export function markersPlugin(markers: () => Marker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u
          const { top, height, left, width } = u.bbox
          ctx.save()
          ctx.lineWidth = 1.5 * devicePixelRatio
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio])
          for (const m of markers()) {
            const x = Math.round(u.valToPos(m.ts, 'x', true))
            if (x < left || x > left + width) continue
            ctx.strokeStyle = m.color
            ctx.beginPath()
            ctx.moveTo(x, top)
            ctx.lineTo(x, top + height)
            ctx.stroke()
          }
          ctx.restore()
        },
      ],
    },
  }
}
