/* The lab console (without the terminal): time left, a node file editor that reads and
 * writes through the node-file API, a folder listing, grading with per-check feedback. */
"use strict";
(function () {
  var cp = window.certprep;
  var data = JSON.parse(document.getElementById("console-data").textContent);
  var base = data.api + "/lab-sessions/" + data.session_id;

  var el = cp.el;
  function message(body, fallback) { return (body && body.message) || fallback; }

  // ---------------------------------------------------------------- time left
  var countdownValue = document.getElementById("lab-countdown-value");
  if (countdownValue && data.remaining_seconds !== null) {
    new cp.Countdown(data.remaining_seconds, function (left) {
      countdownValue.textContent = cp.clock(left);
      if (left <= 300) { countdownValue.parentNode.classList.add("warn"); }
      if (left <= 0) { window.setTimeout(function () { window.location.reload(); }, 3000); }
    });
  }
  if (data.status === "provisioning") {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }

  // ------------------------------------------------------------------- editor
  var form = document.getElementById("file-form");
  if (form) {
    var node = document.getElementById("file-node");
    var path = document.getElementById("file-path");
    var content = document.getElementById("file-content");
    var highlight = document.getElementById("file-highlight");
    var save = document.getElementById("file-save");
    var state = document.getElementById("file-state");
    var listing = document.getElementById("file-listing");
    var opened = null;
    var saved = "";

    var paint = function () {
      // YAML colouring under a transparent textarea: keys, comments, strings.
      cp.paintYaml(highlight, content.value);
      state.textContent = opened && content.value !== saved ? "Unsaved changes" : state.textContent;
    };
    content.addEventListener("input", paint);
    content.addEventListener("scroll", function () {
      highlight.scrollTop = content.scrollTop;
      highlight.scrollLeft = content.scrollLeft;
    });
    content.addEventListener("keydown", function (event) {
      // Tab inserts two spaces (YAML); Escape then Tab leaves the editor.
      if (event.key === "Tab" && !event.shiftKey && !content.dataset.escaped) {
        event.preventDefault();
        var start = content.selectionStart;
        content.setRangeText("  ", start, content.selectionEnd, "end");
        paint();
      }
      if (event.key === "Escape") { content.dataset.escaped = "1"; }
      else if (event.key !== "Tab") { delete content.dataset.escaped; }
      if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save.click(); }
    });

    var fileUrl = function () {
      return base + "/nodes/" + encodeURIComponent(node.value) + "/files?path=" +
        encodeURIComponent(path.value.trim());
    };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      state.textContent = "Opening…";
      cp.api("GET", fileUrl()).then(function (answer) {
        if (answer.status !== 200) {
          state.textContent = "Not opened: " + message(answer.body, "error " + answer.status);
          return;
        }
        opened = { node: node.value, path: path.value.trim() };
        saved = answer.body.content;
        content.value = saved;
        content.disabled = false;
        save.disabled = false;
        state.textContent = "Opened " + opened.path + " on " + opened.node;
        paint();
        content.focus();
      }, function () { state.textContent = "Not opened: no connection."; });
    });
    save.addEventListener("click", function () {
      if (!opened) { return; }
      if (opened.terminal) {
        // A file `vi` opened in the terminal: saved back through the terminal.
        var edited = content.value;
        state.textContent = "Saving…";
        opened.terminal(edited, function (ok, text) {
          if (ok) { saved = edited; }
          state.textContent = text;
        });
        return;
      }
      state.textContent = "Saving…";
      var url = base + "/nodes/" + encodeURIComponent(opened.node) + "/files?path=" +
        encodeURIComponent(opened.path);
      var text = content.value;
      cp.api("PUT", url, { content: text }).then(function (answer) {
        if (answer.status !== 200) {
          state.textContent = "Not saved: " + message(answer.body, "error " + answer.status);
          return;
        }
        saved = text;
        state.textContent = "Saved " + opened.path + " on " + opened.node + " (" + answer.body.size + " bytes)";
      }, function () { state.textContent = "Not saved: no connection. Try again."; });
    });
    // The terminal's `vi FILE` opens the file here (workstation or node file).
    window.cpEditor = {
      open: function (edit, saveThroughTerminal) {
        opened = { node: edit.node || "workstation", path: edit.path, terminal: saveThroughTerminal };
        saved = edit.content;
        content.value = saved;
        content.disabled = false;
        save.disabled = false;
        save.textContent = edit.node ? "Save to the node" : "Save to the workstation";
        path.value = edit.path;
        if (edit.node) { node.value = edit.node; }
        state.textContent = "Opened " + edit.path + (edit.node ? " on " + edit.node : " on the workstation") +
          " from the terminal; Ctrl+S saves, Escape then Tab leaves.";
        paint();
        content.focus();
      }
    };
    form.addEventListener("submit", function () {
      save.textContent = "Save to the node";
    });
    document.getElementById("file-list").addEventListener("click", function () {
      var folder = path.value.trim().replace(/\/[^\/]*$/, "") || "/";
      cp.api("POST", base + "/nodes/" + encodeURIComponent(node.value) + "/exec",
        { command: "ls " + folder }).then(function (answer) {
        listing.textContent = "";
        if (answer.status !== 200 || answer.body.exit_code !== 0) {
          listing.appendChild(el("li", {}, "Cannot list " + folder + ": " +
            (answer.body && (answer.body.stderr || answer.body.message) || "error")));
          return;
        }
        answer.body.stdout.split(/\s+/).filter(Boolean).forEach(function (name) {
          var li = el("li");
          var button = el("button", { type: "button", "class": "link" }, name);
          button.addEventListener("click", function () {
            path.value = folder.replace(/\/$/, "") + "/" + name;
            form.requestSubmit();
          });
          li.appendChild(button);
          listing.appendChild(li);
        });
      });
    });
  }

  // -------------------------------------------------------------------- grade
  var result = document.getElementById("grade-result");
  function showGrade(grade) {
    result.textContent = "";
    if (!grade) { return; }
    if (grade.status === "failed") {
      result.appendChild(el("p", { "class": "message message-error" }, "Grading failed: " + (grade.error || "")));
      return;
    }
    result.appendChild(el("p", { "class": "big", id: "grade-percent" },
      "Grade " + grade.number + ": " + Math.round(grade.percentage * 10) / 10 + " %"));
    var list = el("ul", { "class": "checks", id: "checks" });
    (grade.checks || []).forEach(function (check) {
      var li = el("li", { "class": check.passed ? "pass" : "fail" });
      li.appendChild(el("span", { "class": "badge " + (check.passed ? "badge-good" : "badge-bad") },
        check.passed ? "passed" : "not yet"));
      li.appendChild(document.createTextNode(" " + check.message + " (" +
        Math.round(check.earned * 10) / 10 + "/" + check.points + ")"));
      if (check.hint) {
        var cost = data.hint_costs[check.id] || 0;
        var details = el("details", { "class": "hint" });
        details.appendChild(el("summary", {}, cost
          ? "Hint (costs " + cost + " point" + (cost === 1 ? "" : "s") + " on later grades)"
          : "Hint (free)"));
        details.appendChild(el("p", {}, check.hint));
        li.appendChild(details);
      }
      list.appendChild(li);
    });
    result.appendChild(list);
  }
  showGrade(data.latest);
  var gradeButton = document.getElementById("grade-button");
  if (gradeButton) {
    var gradeState = document.getElementById("grade-state");
    var poll = function (id) {
      cp.api("GET", base + "/grades/" + id + "?wait=25").then(function (answer) {
        if (answer.status !== 200) { gradeState.textContent = message(answer.body, "error"); gradeButton.disabled = false; return; }
        var grade = answer.body;
        if (grade.status === "done" || grade.status === "failed") {
          gradeState.textContent = "Graded.";
          gradeButton.disabled = false;
          showGrade(grade);
        } else {
          gradeState.textContent = "Grading (" + grade.status + ")…";
          poll(id);
        }
      }, function () { window.setTimeout(function () { poll(id); }, 2000); });
    };
    gradeButton.addEventListener("click", function () {
      gradeButton.disabled = true;
      gradeState.textContent = "Grading…";
      cp.api("POST", base + "/grades").then(function (answer) {
        if (answer.status !== 202) {
          gradeState.textContent = "Not graded: " + message(answer.body, "error " + answer.status);
          gradeButton.disabled = false;
          return;
        }
        poll(answer.body.id);
      }, function () { gradeState.textContent = "Not graded: no connection."; gradeButton.disabled = false; });
    });
  }
  var stop = document.getElementById("stop-form");
  if (stop) {
    stop.addEventListener("submit", function (event) {
      if (!window.confirm("Stop the session? Your cluster is deleted and the session cannot be resumed.")) {
        event.preventDefault();
      }
    });
  }
})();
