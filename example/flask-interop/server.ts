/**
 * Starts the Fastify half of the example on http://127.0.0.1:3000.
 *
 *   SECRET_KEY             the Flask app's SECRET_KEY (required)
 *   SECRET_KEY_FALLBACKS   its SECRET_KEY_FALLBACKS, a JSON list (default [])
 *   PORT                   the port (default 3000)
 *   FLASK_URL              where the Flask app answers (default http://127.0.0.1:5000)
 */
import { buildApp } from './app.js'

const secret = process.env.SECRET_KEY
if (!secret) {
  console.error('Set SECRET_KEY to the Flask app\'s SECRET_KEY (see README.md)')
  process.exit(1)
}
const fallbacks = JSON.parse(process.env.SECRET_KEY_FALLBACKS || '[]') as string[]
const port = Number(process.env.PORT || 3000)
const app = buildApp({
  secret: [secret, ...fallbacks],
  flaskUrl: process.env.FLASK_URL || 'http://127.0.0.1:5000'
}, { logger: true })

try {
  await app.listen({ host: '127.0.0.1', port })
} catch (err) {
  app.log.error(err)
  process.exit(1)
}
