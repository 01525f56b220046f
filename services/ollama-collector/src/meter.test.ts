import { describe, expect, it } from 'vitest'
import { ResponseMeter } from './meter.js'

const final = {
  model: 'llama3.2:3b',
  done: true,
  done_reason: 'stop',
  total_duration: 5_000_000_000,
  load_duration: 200_000_000,
  prompt_eval_count: 26,
  prompt_eval_duration: 130_000_000,
  eval_count: 290,
  eval_duration: 4_000_000_000,
}

describe('ResponseMeter', () => {
  it('reads Ollama NDJSON split at any byte', () => {
    const body = `${JSON.stringify({ model: 'm', response: 'He', done: false })}\n${JSON.stringify({ model: 'm', response: 'llo', done: false })}\n${JSON.stringify(final)}\n`
    for (const cut of [1, 7, 40, body.length - 3]) {
      const m = new ResponseMeter('generate', 'application/x-ndjson')
      m.push(Buffer.from(body.slice(0, cut)))
      m.push(Buffer.from(body.slice(cut)))
      const r = m.end()
      expect(r).toMatchObject({
        complete: true,
        invalid: 0,
        promptTokens: 26,
        completionTokens: 290,
        tokensPerSecond: 72.5,
        promptTokensPerSecond: 200,
        loadMs: 200,
        upstreamTtftMs: 330,
        doneReason: 'stop',
      })
    }
  })

  it('reads a non-streamed answer and the OpenAI usage block', () => {
    const j = new ResponseMeter('chat', 'application/json; charset=utf-8')
    j.push(Buffer.from(JSON.stringify({ ...final, message: { role: 'assistant', content: 'x' } })))
    expect(j.end()).toMatchObject({ complete: true, completionTokens: 290 })

    const sse = new ResponseMeter('openai.chat', 'text/event-stream')
    const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`
    sse.push(Buffer.from(chunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] })))
    sse.push(Buffer.from(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })))
    sse.push(
      Buffer.from(
        `${chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 34 } })}data: [DONE]\n\n`,
      ),
    )
    expect(sse.end()).toMatchObject({
      complete: true,
      promptTokens: 12,
      completionTokens: 34,
      doneReason: 'stop',
      tokensPerSecond: null,
    })
  })

  it('counts garbage and reads error bodies', () => {
    const g = new ResponseMeter('generate', 'application/x-ndjson')
    g.push(Buffer.from('not json\n{"also":'))
    expect(g.end()).toMatchObject({ complete: false, invalid: 2 })
    const e = new ResponseMeter('chat', 'application/json')
    e.push(Buffer.from('{"error":"model \\"nope\\" not found, try pulling it first"}'))
    expect(e.end()).toMatchObject({ complete: false, error: 'model "nope" not found, try pulling it first' })
  })
})
