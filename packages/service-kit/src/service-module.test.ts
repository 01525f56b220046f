import { describe, expect, it } from 'vitest'
import { createLogger } from './log.js'
import { type ServiceInstance, startInOrder } from './service-module.js'

const quiet = createLogger('test', () => undefined)

function recording(
  log: string[],
  name: string,
  failStart = false,
): { name: string; instance: ServiceInstance } {
  return {
    name,
    instance: {
      start: async () => {
        if (failStart) throw new Error(`${name} cannot start`)
        log.push(`start ${name}`)
      },
      stop: async () => {
        log.push(`stop ${name}`)
      },
      health: () => ({ ok: true, detail: 'fine' }),
    },
  }
}

describe('startInOrder', () => {
  it('starts in order and stops in reverse', async () => {
    const log: string[] = []
    const stop = await startInOrder([recording(log, 'a'), recording(log, 'b'), recording(log, 'c')], quiet)
    await stop()
    expect(log).toStrictEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a'])
  })

  it('stops what had started when one fails, and never stops what did not start', async () => {
    const log: string[] = []
    await expect(
      startInOrder(
        [recording(log, 'a'), recording(log, 'b'), recording(log, 'c', true), recording(log, 'd')],
        quiet,
      ),
    ).rejects.toThrow('c cannot start')
    expect(log).toStrictEqual(['start a', 'start b', 'stop b', 'stop a'])
  })

  it('goes on stopping the others when one fails to stop', async () => {
    const log: string[] = []
    const broken = recording(log, 'b')
    broken.instance.stop = async () => {
      throw new Error('stuck')
    }
    const stop = await startInOrder([recording(log, 'a'), broken, recording(log, 'c')], quiet)
    await stop()
    expect(log).toStrictEqual(['start a', 'start b', 'start c', 'stop c', 'stop a'])
  })
})
