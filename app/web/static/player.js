/* The quiz player: one question at a time, a navigator, flags, autosave through the
 * REST API with retries, a countdown from the server's remaining time, a summary
 * before submit. The page carries the attempt as JSON (no answer data in it). */
"use strict";
(function () {
  var cp = window.certprep;
  var data = JSON.parse(document.getElementById("player-data").textContent);
  var items = data.items;
  var total = items.length;
  var questions = document.getElementById("questions");
  var navLinks = document.querySelectorAll("#navigator .nav-item");
  var summary = document.getElementById("summary");
  var saveState = document.getElementById("save-state");
  var warning = document.getElementById("time-warning");
  var flagKey = "certprep.flags." + data.attempt_id;
  var flags = {};
  try { flags = JSON.parse(window.localStorage.getItem(flagKey) || "{}"); } catch (e) { flags = {}; }
  var responses = {};
  items.forEach(function (item) { responses[item.question_id] = item.response; });
  var current = Math.min(data.start_index || 0, total - 1);
  var accepting = data.accepting_responses;
  var pending = {};      // question id -> response waiting to be saved
  var inFlight = false;
  var retryDelay = 1;
  var retryTimer = null;
  var typingTimer = null;

  var el = cp.el;

  function isAnswered(id) {
    var r = responses[id];
    if (r === null || r === undefined) { return false; }
    if (r.choices) { return r.choices.length > 0; }
    if (r.matches) { return Object.keys(r.matches).length > 0; }
    if (r.text !== undefined) { return r.text.trim() !== ""; }
    return true;
  }

  function unansweredCount() {
    return items.filter(function (item) { return !isAnswered(item.question_id); }).length;
  }

  function updateNavigator() {
    navLinks.forEach(function (link, i) {
      var id = items[i].question_id;
      var answered = isAnswered(id), flagged = !!flags[id];
      link.classList.toggle("answered", answered);
      link.classList.toggle("flagged", flagged);
      link.classList.toggle("current", i === current && summary.hidden);
      if (i === current && summary.hidden) { link.setAttribute("aria-current", "step"); }
      else { link.removeAttribute("aria-current"); }
      link.querySelector(".state").textContent =
        (answered ? ", answered" : ", unanswered") + (flagged ? ", flagged" : "");
    });
    var summaryLink = document.getElementById("nav-summary");
    summaryLink.classList.toggle("current", !summary.hidden);
    if (!summary.hidden) { summaryLink.setAttribute("aria-current", "step"); }
    else { summaryLink.removeAttribute("aria-current"); }
  }

  // ------------------------------------------------------------------ autosave

  function setSaveState(text, kind) {
    saveState.textContent = text;
    saveState.className = "save-state" + (kind ? " " + kind : "");
  }

  function queueSave(id, response) {
    responses[id] = response;
    pending[id] = response;
    updateNavigator();
    flush();
  }

  function flush() {
    if (inFlight || retryTimer) { return Promise.resolve(); }
    var ids = Object.keys(pending);
    if (!ids.length) { setSaveState("All answers saved", "saved"); return Promise.resolve(); }
    var id = ids[0], response = pending[id];
    inFlight = true;
    setSaveState("Saving…", "saving");
    var path = data.api + "/attempts/" + data.attempt_id + "/responses/" + encodeURIComponent(id);
    return cp.api("PUT", path, { response: response }).then(function (answer) {
      inFlight = false;
      if (answer.status === 200) {
        if (pending[id] === response) { delete pending[id]; }
        retryDelay = 1;
        countdown.sync(answer.body.remaining_seconds);
        return flush();
      }
      if (answer.status === 409) {
        pending = {};
        accepting = false;
        setSaveState("Not saved: " + (answer.body && answer.body.message || "the time is over"), "error");
        timeOver();
        return null;
      }
      if (answer.status === 422 || answer.status === 400) {
        delete pending[id];
        setSaveState("Answer not accepted: " + (answer.body && answer.body.message || "check it"), "error");
        return flush();
      }
      if (answer.status === 401) {
        setSaveState("Not saved: you are logged out. Log in again in another tab, then keep going.", "error");
        return scheduleRetry();
      }
      return scheduleRetry();
    }, function () {
      inFlight = false;
      return scheduleRetry();
    });
  }

  function scheduleRetry() {
    var wait = retryDelay;
    retryDelay = Math.min(retryDelay * 2, 30);
    setSaveState("Not saved (no connection); retrying in " + wait + " s", "error");
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, wait * 1000);
  }

  window.addEventListener("online", function () {
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    flush();
  });
  window.addEventListener("beforeunload", function (event) {
    if (Object.keys(pending).length) { event.preventDefault(); event.returnValue = ""; }
  });

  // ------------------------------------------------------------------ rendering

  function choiceList(item, multiple) {
    var list = el("div", { "class": "choices" });
    var r = responses[item.question_id] || {};
    item.options.forEach(function (option) {
      var id = "q" + item.position + "-" + option.id;
      var row = el("p", { "class": "choice" });
      var input = el("input", { type: multiple ? "checkbox" : "radio", id: id,
        name: "q" + item.position, value: option.id });
      if (multiple ? (r.choices || []).indexOf(option.id) >= 0 : r.choice === option.id) {
        input.checked = true;
      }
      input.addEventListener("change", function () {
        if (multiple) {
          var chosen = Array.prototype.filter.call(
            list.querySelectorAll("input"), function (i) { return i.checked; }
          ).map(function (i) { return i.value; });
          queueSave(item.question_id, { choices: chosen });
        } else {
          queueSave(item.question_id, { choice: option.id });
        }
      });
      row.appendChild(input);
      row.appendChild(cp.rich(el("label", { "for": id }), option.text));
      list.appendChild(row);
    });
    return list;
  }

  function trueFalse(item) {
    var list = el("div", { "class": "choices" });
    var r = responses[item.question_id];
    [["true", "True"], ["false", "False"]].forEach(function (pair) {
      var id = "q" + item.position + "-" + pair[0];
      var row = el("p", { "class": "choice" });
      var input = el("input", { type: "radio", id: id, name: "q" + item.position, value: pair[0] });
      if (r && String(r.value) === pair[0]) { input.checked = true; }
      input.addEventListener("change", function () {
        queueSave(item.question_id, { value: pair[0] === "true" });
      });
      row.appendChild(input);
      row.appendChild(el("label", { "for": id }, pair[1]));
      list.appendChild(row);
    });
    return list;
  }

  function ordering(item, container) {
    var r = responses[item.question_id];
    var order = r && r.order ? r.order.slice() : item.items.map(function (e) { return e.id; });
    var texts = {};
    item.items.forEach(function (e) { texts[e.id] = e.text; });
    var live = el("p", { "class": "sr-only", "aria-live": "polite" });
    var list = el("ol", { "class": "ordering", "aria-describedby": "ordering-help-" + item.position });
    var dragged = null;

    function move(from, to, focusWhich) {
      if (to < 0 || to >= order.length) { return; }
      var moved = order.splice(from, 1)[0];
      order.splice(to, 0, moved);
      draw();
      queueSave(item.question_id, { order: order.slice() });
      live.textContent = cp.plain(texts[moved]) + " moved to position " + (to + 1) + " of " + order.length;
      var button = list.querySelectorAll("li")[to].querySelector("." + focusWhich);
      if (button && !button.disabled) { button.focus(); }
      else { list.querySelectorAll("li")[to].querySelector("button:not([disabled])").focus(); }
    }

    function draw() {
      list.textContent = "";
      order.forEach(function (id, index) {
        var li = el("li", { draggable: "true", "data-id": id, "class": "order-item" });
        li.appendChild(el("span", { "class": "grip", "aria-hidden": "true" }, "⠿"));
        li.appendChild(cp.rich(el("span", { "class": "order-text" }), texts[id]));
        var up = el("button", { type: "button", "class": "secondary small up",
          "aria-label": "Move " + cp.plain(texts[id]) + " up" }, "↑");
        var down = el("button", { type: "button", "class": "secondary small down",
          "aria-label": "Move " + cp.plain(texts[id]) + " down" }, "↓");
        up.disabled = index === 0;
        down.disabled = index === order.length - 1;
        up.addEventListener("click", function () { move(index, index - 1, "up"); });
        down.addEventListener("click", function () { move(index, index + 1, "down"); });
        li.appendChild(up);
        li.appendChild(down);
        li.addEventListener("dragstart", function (event) {
          dragged = index;
          li.classList.add("dragging");
          event.dataTransfer.effectAllowed = "move";
          event.dataTransfer.setData("text/plain", id);
        });
        li.addEventListener("dragend", function () { li.classList.remove("dragging"); });
        li.addEventListener("dragover", function (event) { event.preventDefault(); });
        li.addEventListener("drop", function (event) {
          event.preventDefault();
          if (dragged !== null && dragged !== index) { move(dragged, index, "up"); }
          dragged = null;
        });
        list.appendChild(li);
      });
    }
    draw();
    container.appendChild(el("p", { "class": "muted", id: "ordering-help-" + item.position },
      "Drag the items, or use the arrow buttons, to put them in order (first at the top)."));
    container.appendChild(list);
    container.appendChild(live);
  }

  function matching(item) {
    var box = el("div", { "class": "matching" });
    var r = responses[item.question_id] || {};
    var matches = Object.assign({}, r.matches || {});
    item.prompts.forEach(function (prompt) {
      var id = "q" + item.position + "-" + prompt.id;
      var row = el("p", { "class": "match-row" });
      row.appendChild(cp.rich(el("label", { "for": id }), prompt.text));
      var select = el("select", { id: id });
      select.appendChild(el("option", { value: "" }, "— choose —"));
      item.choices.forEach(function (choice) {
        var option = el("option", { value: choice.id }, cp.plain(choice.text));
        if (matches[prompt.id] === choice.id) { option.selected = true; }
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        if (select.value) { matches[prompt.id] = select.value; } else { delete matches[prompt.id]; }
        queueSave(item.question_id, { matches: Object.assign({}, matches) });
      });
      row.appendChild(select);
      box.appendChild(row);
    });
    return box;
  }

  function textInput(item, numeric) {
    var id = "q" + item.position + "-answer";
    var row = el("p", { "class": "text-answer" });
    var r = responses[item.question_id];
    row.appendChild(el("label", { "for": id }, numeric ? "Your answer (a number)" : "Your answer"));
    var input = el("input", numeric
      ? { id: id, type: "text", inputmode: "decimal", autocomplete: "off" }
      : { id: id, type: "text", maxlength: "500", autocomplete: "off", spellcheck: "false" });
    if (r) { input.value = numeric ? String(r.value) : (r.text || ""); }
    var note = el("span", { "class": "field-note", id: id + "-note", "aria-live": "polite" });
    input.setAttribute("aria-describedby", id + "-note");
    function save() {
      var text = input.value.trim();
      if (numeric) {
        if (text === "") { return; }
        var number = Number(text.replace(",", "."));
        if (!isFinite(number)) { note.textContent = "Enter a number, e.g. 2 or 0.5"; return; }
        note.textContent = "";
        queueSave(item.question_id, { value: number });
      } else {
        queueSave(item.question_id, { text: input.value });
      }
    }
    input.addEventListener("input", function () {
      window.clearTimeout(typingTimer);
      typingTimer = window.setTimeout(save, 700);
    });
    input.addEventListener("change", function () { window.clearTimeout(typingTimer); save(); });
    row.appendChild(input);
    if (numeric && item.unit) { row.appendChild(el("span", { "class": "unit" }, item.unit)); }
    row.appendChild(note);
    return row;
  }

  function render() {
    var item = items[current];
    questions.textContent = "";
    var section = el("section", { "class": "question", id: "q" + (current + 1),
      "aria-labelledby": "q-heading" });
    var head = el("div", { "class": "question-head" });
    head.appendChild(el("h2", { id: "q-heading", tabindex: "-1" },
      "Question " + (current + 1) + " of " + total));
    head.appendChild(el("span", { "class": "muted" },
      item.points + " point" + (item.points === 1 ? "" : "s") + " · " + item.type.replace("_", " ")));
    var flag = el("button", { type: "button", "class": "flag secondary", id: "flag-button",
      "aria-pressed": flags[item.question_id] ? "true" : "false" },
      flags[item.question_id] ? "Flagged for review" : "Flag for review");
    flag.addEventListener("click", function () {
      flags[item.question_id] = !flags[item.question_id];
      if (!flags[item.question_id]) { delete flags[item.question_id]; }
      try { window.localStorage.setItem(flagKey, JSON.stringify(flags)); } catch (e) { /* private mode */ }
      flag.setAttribute("aria-pressed", flags[item.question_id] ? "true" : "false");
      flag.textContent = flags[item.question_id] ? "Flagged for review" : "Flag for review";
      updateNavigator();
    });
    head.appendChild(flag);
    section.appendChild(head);
    var fieldset = el("fieldset", { "class": "answer" });
    fieldset.appendChild(cp.rich(el("legend", { "class": "stem" }), item.stem));
    if (item.type === "single") { fieldset.appendChild(choiceList(item, false)); }
    else if (item.type === "multiple") {
      fieldset.appendChild(el("p", { "class": "muted" }, "Choose every option that applies."));
      fieldset.appendChild(choiceList(item, true));
    }
    else if (item.type === "true_false") { fieldset.appendChild(trueFalse(item)); }
    else if (item.type === "ordering") { ordering(item, fieldset); }
    else if (item.type === "matching") { fieldset.appendChild(matching(item)); }
    else if (item.type === "short_answer") { fieldset.appendChild(textInput(item, false)); }
    else if (item.type === "numeric") { fieldset.appendChild(textInput(item, true)); }
    fieldset.disabled = !accepting;
    section.appendChild(fieldset);
    var buttons = el("p", { "class": "question-buttons" });
    var prev = el("button", { type: "button", "class": "secondary", id: "prev-button" }, "Previous");
    prev.disabled = current === 0;
    prev.addEventListener("click", function () { show(current - 1); });
    var next = el("button", { type: "button", id: "next-button" },
      current === total - 1 ? "Review and submit" : "Next");
    next.addEventListener("click", function () {
      if (current === total - 1) { showSummary(); } else { show(current + 1); }
    });
    buttons.appendChild(prev);
    buttons.appendChild(next);
    section.appendChild(buttons);
    questions.appendChild(section);
  }

  function show(index, keepFocus) {
    if (index < 0 || index >= total) { return; }
    current = index;
    summary.hidden = true;
    questions.hidden = false;
    render();
    updateNavigator();
    if (!keepFocus) { document.getElementById("q-heading").focus(); }
  }

  function showSummary() {
    var unanswered = unansweredCount();
    var flagged = items.filter(function (i) { return flags[i.question_id]; }).length;
    questions.hidden = true;
    summary.hidden = false;
    document.getElementById("summary-counts").textContent =
      "Answered " + (total - unanswered) + " of " + total + ". Unanswered: " + unanswered +
      ". Flagged for review: " + flagged + ".";
    var list = document.getElementById("summary-list");
    list.textContent = "";
    items.forEach(function (item, index) {
      var li = el("li");
      var link = el("a", { href: "#q" + (index + 1) }, "Question " + (index + 1));
      link.addEventListener("click", function (event) { event.preventDefault(); show(index); });
      li.appendChild(link);
      li.appendChild(document.createTextNode(
        ": " + (isAnswered(item.question_id) ? "answered" : "unanswered") +
        (flags[item.question_id] ? ", flagged" : "")));
      if (!isAnswered(item.question_id)) { li.className = "unanswered"; }
      list.appendChild(li);
    });
    document.getElementById("submit-warning").textContent = unanswered
      ? unanswered + " question(s) have no answer; they score zero if you submit now."
      : "Every question has an answer.";
    updateNavigator();
    summary.focus();
  }

  navLinks.forEach(function (link, index) {
    link.addEventListener("click", function (event) { event.preventDefault(); show(index); });
  });
  document.getElementById("nav-summary").addEventListener("click", function (event) {
    event.preventDefault();
    showSummary();
  });
  document.getElementById("back-to-questions").addEventListener("click", function () { show(current); });
  document.getElementById("submit-form").addEventListener("submit", function (event) {
    // Submit only once every answer is stored.
    if (Object.keys(pending).length && accepting) {
      event.preventDefault();
      setSaveState("Saving before submit…", "saving");
      var form = event.target;
      var wait = window.setInterval(function () {
        if (!Object.keys(pending).length || !accepting) { window.clearInterval(wait); form.submit(); }
      }, 200);
    }
  });

  // ------------------------------------------------------------------ countdown

  var countdownBox = document.getElementById("countdown");
  var countdownValue = document.getElementById("countdown-value");
  var warned = {};
  function timeOver() {
    accepting = false;
    var fieldset = questions.querySelector("fieldset");
    if (fieldset) { fieldset.disabled = true; }
    countdownBox.classList.add("over");
    countdownValue.textContent = "0:00";
    var note = document.getElementById("expiry-note");
    note.classList.add("message", "message-error");
    note.textContent = "Time is up. " + data.expiry_words;
    warning.textContent = "Time is up. " + data.expiry_words;
    if (data.expiry_policy === "grace") {
      showSummary();
    } else {
      // The server closes the attempt by its policy; the page then shows the result.
      window.setTimeout(function () { window.location.reload(); }, 4000);
    }
  }
  var countdown = new cp.Countdown(data.remaining_seconds, function (left) {
    countdownValue.textContent = cp.clock(left);
    if (left <= 300 && !warned[5] && left > 60) {
      warned[5] = true;
      countdownBox.classList.add("warn");
      warning.textContent = "5 minutes left.";
    }
    if (left <= 60 && !warned[1] && left > 0) {
      warned[1] = warned[5] = true;
      countdownBox.classList.add("warn", "danger");
      warning.textContent = "1 minute left.";
    }
    if (left <= 0 && !warned[0]) {
      warned[0] = true;
      timeOver();
    }
  });

  show(current, true);
  if (!accepting) { timeOver(); }
})();
