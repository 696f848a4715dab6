import type {Readable} from 'node:stream'

import {StringDecoder} from 'node:string_decoder'

import {classifyErrorText, RuntimeError, type RuntimeErrorReason} from '../engine/errors.js'

/** One message of the engine's JSON progress stream (pull, push, build). */
export interface StreamMessage {
  readonly status?: string
  readonly id?: string
  readonly progressDetail?: {current?: number; total?: number}
  readonly stream?: string
  readonly error?: string
  readonly errorDetail?: {code?: number; message?: string}
  readonly aux?: Record<string, unknown>
}

/** What an in-band error of a progress stream means (the words are read in ./errors.ts). */
export function classifyStreamError(message: string): RuntimeErrorReason {
  return classifyErrorText(message) ?? 'stream'
}

/**
 * Reads a newline-delimited JSON progress stream to its end. The end of the
 * stream is NOT success: an `error` message anywhere in it rejects (engines
 * report a failed pull or push in-band and then close the stream normally).
 */
export async function followJsonStream(
  stream: Readable,
  onMessage: (message: StreamMessage) => void,
  signal?: AbortSignal,
): Promise<StreamMessage[]> {
  const messages: StreamMessage[] = []
  let buffered = ''
  // Chunk boundaries fall anywhere, also inside a multi-byte character.
  const decoder = new StringDecoder('utf8')
  let failure: RuntimeError | undefined
  const handle = (line: string) => {
    const text = line.trim()
    if (text === '') return
    let message: StreamMessage
    try {
      message = JSON.parse(text) as StreamMessage
    } catch {
      message = {stream: text}
    }

    messages.push(message)
    if ((message.error || message.errorDetail?.message) && !failure) {
      const errorText = message.errorDetail?.message ?? message.error ?? 'unknown error'
      failure = new RuntimeError(classifyStreamError(errorText), errorText, {
        ...(message.errorDetail?.code === undefined ? {} : {statusCode: message.errorDetail.code}),
      })
    }

    onMessage(message)
  }

  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      stream.destroy()
      reject(new RuntimeError('aborted', 'Cancelled.'))
    }

    if (signal?.aborted) {
      onAbort()
      return
    }

    signal?.addEventListener('abort', onAbort, {once: true})
    stream.on('data', (chunk: Buffer | string) => {
      buffered += typeof chunk === 'string' ? chunk : decoder.write(chunk)
      let nl = buffered.indexOf('\n')
      while (nl !== -1) {
        handle(buffered.slice(0, nl))
        buffered = buffered.slice(nl + 1)
        nl = buffered.indexOf('\n')
      }
    })
    stream.on('end', () => {
      signal?.removeEventListener('abort', onAbort)
      handle(buffered + decoder.end())
      resolve()
    })
    stream.on('error', (error) => {
      signal?.removeEventListener('abort', onAbort)
      reject(signal?.aborted ? new RuntimeError('aborted', 'Cancelled.') : error)
    })
  })
  if (failure) throw failure
  return messages
}
