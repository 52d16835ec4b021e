import { createHmac } from 'node:crypto'

/**
 * HMAC-SHA256 of a text, in base64url: the MAC of the signed format and of
 * store-mode ids, computed the plainest way (`createHmac`, a fresh object
 * each time), so that tests sign by hand without the code under test.
 */
export function hmacTag (key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url')
}
