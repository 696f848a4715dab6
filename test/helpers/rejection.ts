import {expect} from 'chai'

/**
 * Resolves with the error a promise that must reject rejects with, checked to be
 * an instance of `type`; fails the test when it resolves instead.
 */
export async function rejectionOf<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  let settled: unknown
  try {
    settled = await promise
  } catch (error) {
    expect(error, `expected a ${type.name}, got ${String(error)}`).to.be.instanceOf(type)
    return error as E
  }

  throw new Error(`expected a rejection, got ${JSON.stringify(settled)}`)
}
