import { describe, expect, it } from 'vitest'
import { GpuReader, parseNvidiaSmi } from './gpu.js'

describe('GPU', () => {
  it('parses nvidia-smi CSV (MiB → bytes, N/A → null)', () => {
    const out =
      '0, NVIDIA GeForce RTX 3090, 45, 10240, 24576, 61\n1, Tesla T4, [N/A], 0, 15360, [Not Supported]\n\n'
    expect(parseNvidiaSmi(out)).toEqual([
      {
        index: 0,
        name: 'NVIDIA GeForce RTX 3090',
        utilization: 45,
        memoryUsed: 10240 * 1048576,
        memoryTotal: 24576 * 1048576,
        temperature: 61,
      },
      {
        index: 1,
        name: 'Tesla T4',
        utilization: null,
        memoryUsed: 0,
        memoryTotal: 15360 * 1048576,
        temperature: null,
      },
    ])
    expect(parseNvidiaSmi('garbage\n,,,\n')).toEqual([])
  })

  it('reports "not present" with the reason when nvidia-smi is missing', async () => {
    const g = await new GpuReader('/nonexistent/nvidia-smi', true).read()
    expect(g).toEqual({ present: false, reason: expect.stringMatching(/not found/), devices: [] })
    const off = await new GpuReader('nvidia-smi', false).read()
    expect(off.present).toBe(false)
    expect(off.reason).toMatch(/HOMELAB_OLLAMA_GPU=off/)
  })
})
