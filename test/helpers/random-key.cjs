'use strict'
/**
 * What `require('sodium-native')` gets in csrf-protection's own test files
 * when the optional sodium-native is not installed (see
 * csrf-shipped-preload.cjs): the files use it only to make a random 32-byte
 * key, which node:crypto makes as well.
 */
const { randomFillSync } = require('node:crypto')

module.exports = {
  crypto_secretbox_KEYBYTES: 32,
  randombytes_buf (buffer) {
    randomFillSync(buffer)
  }
}
