/* certprep pages: REST calls with the browser session, and countdowns.
 * The session cookie authenticates the call; a change also sends the page's CSRF token
 * (X-CSRF-Token). No third-party code. */
"use strict";
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  /* fetch() a JSON API path; resolves {status, body}, rejects on a network error. */
  function api(method, path, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = { message: text }; }
        return { status: response.status, body: parsed };
      });
    });
  }

  /* "12:05", or "1:02:03" beyond an hour. */
  function clock(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  /* A countdown from the server's remaining seconds. It runs on the monotonic clock of
   * the page (performance.now), so a wrong computer clock does not change it; sync()
   * takes a fresher remaining time from any later server answer. */
  function Countdown(remaining, onTick) {
    this.onTick = onTick;
    this.sync(remaining);
    var self = this;
    this.timer = window.setInterval(function () { self.tick(); }, 500);
    this.tick();
  }
  Countdown.prototype.sync = function (remaining) {
    this.endAt = performance.now() + remaining * 1000;
  };
  Countdown.prototype.left = function () {
    return Math.max(0, (this.endAt - performance.now()) / 1000);
  };
  Countdown.prototype.tick = function () {
    var left = this.left();
    this.onTick(left);
    if (left <= 0) { window.clearInterval(this.timer); }
  };

  /* document.createElement with attributes ("class" sets className) and text. */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "class") { node.className = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* Append content text to `node`: `backquoted` parts become <code>, all as text nodes
   * (never parsed as HTML). Returns `node`. */
  function rich(node, text) {
    // Content is hard-wrapped YAML: a single line break is a space, a blank line stays.
    var flowing = String(text).trim().replace(/([^\n])\n(?=[^\n])/g, "$1 ");
    flowing.split("`").forEach(function (part, index) {
      if (!part) { return; }
      node.appendChild(index % 2 ? el("code", {}, part) : document.createTextNode(part));
    });
    return node;
  }

  /* Content text without its backquotes, for places that cannot hold markup. */
  function plain(text) { return String(text).split("`").join(""); }

  /* YAML colouring of `text` into `highlight` (the <pre> under an editor's transparent
   * textarea): keys, comments and values as spans of text nodes. */
  function paintYaml(highlight, text) {
    highlight.textContent = "";
    text.split("\n").forEach(function (line, index) {
      if (index) { highlight.appendChild(document.createTextNode("\n")); }
      var comment = line.match(/^(\s*)(#.*)$/);
      var key = line.match(/^(\s*-?\s*)([^\s:#][^:#]*?)(:)(\s|$)(.*)$/);
      if (comment) {
        highlight.appendChild(document.createTextNode(comment[1]));
        highlight.appendChild(el("span", { "class": "y-comment" }, comment[2]));
      } else if (key) {
        highlight.appendChild(document.createTextNode(key[1]));
        highlight.appendChild(el("span", { "class": "y-key" }, key[2]));
        highlight.appendChild(document.createTextNode(key[3] + key[4]));
        highlight.appendChild(el("span", { "class": "y-value" }, key[5]));
      } else {
        highlight.appendChild(document.createTextNode(line));
      }
    });
    highlight.appendChild(document.createTextNode("\n"));
  }

  window.certprep = {
    api: api, clock: clock, Countdown: Countdown, csrf: csrf, el: el, rich: rich, plain: plain,
    paintYaml: paintYaml
  };
})();
