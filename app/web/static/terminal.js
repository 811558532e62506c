// The browser terminal of the lab console and of the exam attempt page: xterm.js on a
// WebSocket to the learner workstation whose path the #terminal box names in its
// data-socket attribute (/api/v1/lab-sessions/<id>/terminal or
// /api/v1/exam-attempts/<id>/terminal). The line is edited here (typing,
// Backspace, Ctrl-U, Ctrl-L, Up/Down through the history, Tab asks the server to
// complete); Enter sends the line, Ctrl-C interrupts. `vi FILE` opens the page's
// editor (window.cpEditor: console.js, term_editor.js) and its Save goes back through
// the socket.
// A dropped connection reconnects with a back-off; the workstation is kept on the server.
(function () {
  "use strict";
  var box = document.getElementById("terminal");
  if (!box || !window.Terminal || !window.FitAddon) { return; }
  var socketPath = box.getAttribute("data-socket");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var state = document.getElementById("terminal-state");

  var term = new window.Terminal({
    cursorBlink: true,
    fontSize: 14,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
    scrollback: 5000,
    theme: { background: "#111418", foreground: "#e6e6e6", cursor: "#e6e6e6" }
  });
  var fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  var refit = function () { try { fit.fit(); } catch (e) { /* hidden */ } };
  refit();

  var socket = null;
  var line = "";
  var prompt = "";
  var history = [];
  var index = 0;
  var busy = true;
  var queue = "";
  var retry = 1000;
  var finished = false;
  var pendingSave = null;

  // This page's id: a reconnect after a dropped connection says `resume=1` and gets
  // the workstation back only if no other page took it over meanwhile.
  var tab = Array.prototype.map.call(window.crypto.getRandomValues(new Uint8Array(8)),
    function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  var resuming = false;
  var url = function () {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + socketPath + "?csrf=" +
      encodeURIComponent(csrf) + "&tab=" + tab + (resuming ? "&resume=1" : "");
  };
  var send = function (message) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(message)); return true; }
    return false;
  };
  var say = function (text) { state.textContent = text; };

  var redraw = function (text) {
    term.write("\r\x1b[K" + prompt + text);
    line = text;
  };

  var submit = function () {
    term.write("\r\n");
    if (line.trim() && history[history.length - 1] !== line) { history.push(line); }
    index = history.length;
    busy = true;
    if (!send({ t: "line", d: line })) { say("Not connected; the line was not sent."); busy = false; }
    line = "";
  };

  var input = function (chunk) {
    if (busy) {
      if (chunk === "\x03") { send({ t: "int" }); } else { queue += chunk; }
      return;
    }
    if (chunk === "\x1b[A" || chunk === "\x1bOA") {
      if (index > 0) { index -= 1; redraw(history[index]); }
      return;
    }
    if (chunk === "\x1b[B" || chunk === "\x1bOB") {
      if (index < history.length) { index += 1; redraw(history[index] || ""); }
      return;
    }
    if (chunk.charAt(0) === "\x1b") { return; }  // other keys: not used
    for (var i = 0; i < chunk.length; i += 1) {
      var c = chunk.charAt(i);
      if (busy) { queue += chunk.slice(i); return; }
      if (c === "\r" || c === "\n") {
        if (c === "\n" && chunk.charAt(i - 1) === "\r") { continue; }
        submit();
      } else if (c === "\x7f" || c === "\b") {
        if (line) { line = line.slice(0, -1); term.write("\b \b"); }
      } else if (c === "\x03") {
        busy = true;
        line = "";
        send({ t: "int" });
      } else if (c === "\x15") {
        redraw("");
      } else if (c === "\x0c") {
        term.clear();
        redraw(line);
      } else if (c === "\t") {
        send({ t: "complete", d: line });
      } else if (c >= " ") {
        line += c;
        term.write(c);
      }
    }
  };
  term.onData(input);

  var handle = function (m) {
    if (m.t === "hello") {
      term.reset();
      if (m.screen) { term.write(m.screen); }
      history = m.history || [];
      index = history.length;
      if (m.editing && window.cpEditor) { say("Connected"); }
    } else if (m.t === "out") {
      term.write(m.d);
    } else if (m.t === "prompt") {
      prompt = m.p;
      term.write(m.p);
      line = "";
      busy = false;
      if (queue) { var rest = queue; queue = ""; input(rest); }
    } else if (m.t === "complete") {
      if (m.matches && m.matches.length > 1) {
        term.write("\r\n" + m.matches.join("  ") + "\r\n");
        redraw(m.line);
      } else if (m.line.indexOf(line) === 0) {
        term.write(m.line.slice(line.length));
        line = m.line;
      } else {
        redraw(m.line);
      }
    } else if (m.t === "edit") {
      if (window.cpEditor) {
        window.cpEditor.open(m, function (text, done) {
          pendingSave = done;
          if (!send({ t: "save", id: m.id, content: text })) {
            pendingSave = null;
            done(false, "Not saved: the terminal is not connected. Try again.");
          }
        });
      }
    } else if (m.t === "saved") {
      if (pendingSave) {
        pendingSave(m.ok, m.ok ? "Saved " + m.path + (m.node ? " on " + m.node : " on the workstation") +
          " (" + m.size + " bytes)" : m.message);
        pendingSave = null;
      }
    } else if (m.t === "busy") {
      term.write("\r\n" + m.message + "\r\n");
    } else if (m.t === "bye") {
      finished = true;
      say(m.message + (m.reason === "idle" || m.reason === "taken" ? " Reload the page to continue." : ""));
    }
  };

  var connect = function () {
    finished = false;
    busy = true;
    say("Connecting…");
    socket = new window.WebSocket(url());
    socket.onopen = function () {
      retry = 1000;
      say("Connected");
      send({ t: "resize", cols: term.cols, rows: term.rows });
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    socket.onclose = function () {
      busy = true;
      if (finished) { return; }
      say("Connection lost; reconnecting in " + Math.round(retry / 1000) + " s…");
      resuming = true;
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  };

  term.onResize(function (size) { send({ t: "resize", cols: size.cols, rows: size.rows }); });
  window.addEventListener("resize", refit);
  window.addEventListener("online", function () { if (socket && socket.readyState > 1 && !finished) { connect(); } });
  box.addEventListener("click", function () { term.focus(); });
  window.cpTerminal = {
    focus: function () { term.focus(); },
    // The whole buffer as text, wrapped rows joined (for tests and copying).
    text: function () {
      var buffer = term.buffer.active;
      var lines = [];
      for (var i = 0; i < buffer.length; i += 1) {
        var row = buffer.getLine(i);
        var text = row.translateToString(true);
        if (row.isWrapped && lines.length) { lines[lines.length - 1] += text; } else { lines.push(text); }
      }
      return lines.join("\n");
    }
  };
  connect();
  term.focus();
}());
