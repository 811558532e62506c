/* The editor of a page whose files open only from the browser terminal (the exam
 * attempt page): `vi FILE` in the terminal (terminal.js) opens the workstation's or a
 * node's file here through window.cpEditor; Save (or Ctrl+S) sends it back through the
 * terminal's socket. Tab inserts two spaces; Escape then Tab leaves the editor. */
"use strict";
(function () {
  var cp = window.certprep;
  var content = document.getElementById("file-content");
  if (!content) { return; }
  var highlight = document.getElementById("file-highlight");
  var save = document.getElementById("file-save");
  var state = document.getElementById("file-state");
  var title = document.getElementById("file-title");
  var opened = null;
  var saved = "";

  var paint = function () {
    cp.paintYaml(highlight, content.value);
    if (opened && content.value !== saved) { state.textContent = "Unsaved changes"; }
  };
  content.addEventListener("input", paint);
  content.addEventListener("scroll", function () {
    highlight.scrollTop = content.scrollTop;
    highlight.scrollLeft = content.scrollLeft;
  });
  content.addEventListener("keydown", function (event) {
    if (event.key === "Tab" && !event.shiftKey && !content.dataset.escaped) {
      event.preventDefault();
      content.setRangeText("  ", content.selectionStart, content.selectionEnd, "end");
      paint();
    }
    if (event.key === "Escape") { content.dataset.escaped = "1"; }
    else if (event.key !== "Tab") { delete content.dataset.escaped; }
    if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save.click(); }
  });
  save.addEventListener("click", function () {
    if (!opened) { return; }
    var edited = content.value;
    state.textContent = "Saving…";
    opened.send(edited, function (ok, text) {
      if (ok) { saved = edited; }
      state.textContent = text;
    });
  });
  window.cpEditor = {
    open: function (edit, saveThroughTerminal) {
      var where = edit.node ? edit.node + (edit.context ? " (" + edit.context + ")" : "") : "the workstation";
      opened = { send: saveThroughTerminal };
      saved = edit.content;
      content.value = saved;
      content.disabled = false;
      save.disabled = false;
      title.textContent = edit.path + " on " + where;
      state.textContent = "Opened from the terminal; Ctrl+S saves, Escape then Tab leaves.";
      paint();
      content.focus();
    }
  };
}());
