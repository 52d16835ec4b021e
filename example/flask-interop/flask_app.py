"""The Flask half of the example: the site as it was before the move.

It keeps the login (Flask's quickstart, "Sessions"), and links to the
account page that has moved to Fastify (app.ts). Both apps read and write
the same `session` cookie, so a login on either side holds on the other.

    SECRET_KEY=... FLASK_PORT=5000 FASTIFY_URL=http://127.0.0.1:3000 \\
      /usr/bin/python3 example/flask-interop/flask_app.py
"""
import json
import os
import sys
from datetime import timedelta

from flask import Flask, flash, get_flashed_messages, redirect, request, session, url_for
from markupsafe import escape

if not os.environ.get("SECRET_KEY"):
    sys.exit("Set SECRET_KEY to the key that the Fastify app uses as its secret (see README.md)")

app = Flask(__name__)
app.secret_key = os.environ["SECRET_KEY"]
# Flask 3.1 and later verify with these keys too; the Fastify app gets them after SECRET_KEY.
app.config["SECRET_KEY_FALLBACKS"] = json.loads(os.environ.get("SECRET_KEY_FALLBACKS", "[]"))
# The Fastify app's maxAge must be the same number of seconds.
app.permanent_session_lifetime = timedelta(days=31)
FASTIFY_URL = os.environ.get("FASTIFY_URL", "http://127.0.0.1:3000")


def page(title, body):
    flashes = "".join(
        f'<li class="{escape(category)}">{escape(message)}</li>'
        for category, message in get_flashed_messages(with_categories=True)
    )
    return (
        f'<!doctype html>\n<html lang="en">\n<meta charset="utf-8">\n<title>{title}</title>\n'
        + (f'<ul class="flashes">{flashes}</ul>\n' if flashes else "")
        + body
    )


@app.route("/")
def index():
    if "username" not in session:
        return page("Home (Flask)", '<p>You are not logged in</p>\n<p><a href="/login">Log in</a></p>')
    session["visits"] = session.get("visits", 0) + 1
    return page(
        "Home (Flask)",
        f"<p>Flask: logged in as {escape(session['username'])}</p>\n"
        f"<p>Visits, counted by both apps: {session['visits']}</p>\n"
        f'<p><a href="{FASTIFY_URL}/">Your account (Fastify)</a> | <a href="/logout">Log out</a></p>',
    )


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        session["username"] = request.form["username"]
        session.permanent = "remember" in request.form
        flash("You were logged in by Flask")
        return redirect(url_for("index"))
    return page(
        "Log in (Flask)",
        '<form method="post">\n'
        '<p><label>Username <input type="text" name="username" required autofocus></label></p>\n'
        '<p><label><input type="checkbox" name="remember" value="1"> Remember me</label></p>\n'
        '<p><button type="submit">Log in</button></p>\n</form>',
    )


@app.route("/logout")
def logout():
    session.clear()
    return redirect(url_for("index"))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("FLASK_PORT", "5000")))
