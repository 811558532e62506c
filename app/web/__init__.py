"""Server-rendered pages: the learner app and the trainer dashboard.

`app.web.learner.bp` (the learner's pages at `/`, `/login`, `/quizzes`, `/attempts`,
`/labs`, `/lab-sessions`, `/me/history`, and the static assets at `/assets`) and
`app.web.dashboard.bp` (`/dashboard`) are plain Flask blueprints registered through
`app.api.PLAIN_BLUEPRINTS`. Browser sessions (`app.web.session`) keep no API token in
the cookie. See docs/web.md.
"""
