/* The exam attempt page: the countdown, reloads while the clusters are made or graded,
 * and the node shell (one command at a time through the REST API). */
"use strict";
(function () {
  var node = document.getElementById("exam-data");
  if (!node) { return; }
  var data = JSON.parse(node.textContent);
  var c = window.certprep;

  if (data.status === "provisioning" || data.status === "grading") {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }
  var value = document.getElementById("exam-countdown-value");
  if (value && data.remaining !== null) {
    new c.Countdown(data.remaining, function (left) {
      value.textContent = c.clock(left);
      if (left <= 0) { window.setTimeout(function () { window.location.reload(); }, 3000); }
    });
  }

  var form = document.getElementById("shell-form");
  if (!form) { return; }
  var output = document.getElementById("shell-output");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var target = document.getElementById("shell-node").value.split("/");
    var input = document.getElementById("shell-command");
    var command = input.value.trim();
    if (!command) { return; }
    output.textContent += "root@" + target[1] + " (" + target[0] + "):~# " + command + "\n";
    c.api("POST", data.exec, { context: target[0], node: target[1], command: command }).then(
      function (answer) {
        var body = answer.body || {};
        if (answer.status !== 200) {
          output.textContent += (body.message || "error " + answer.status) + "\n";
        } else {
          output.textContent += (body.stdout || "") + (body.stderr || "");
        }
        output.scrollTop = output.scrollHeight;
      },
      function () { output.textContent += "the server did not answer\n"; }
    );
    input.value = "";
  });
})();
