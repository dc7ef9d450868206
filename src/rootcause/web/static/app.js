// rootcause web app: a little progressive enhancement. Every page works without JavaScript.
// - print buttons; details opened for printing
// - case form: add and remove pain-score rows
// - interview: answers sent with fetch; the new question replaces the old one inside the
//   aria-live region (screen readers announce it) and keyboard focus moves to it
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // ------------------------------------------------------------------ printing
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) {
      if (!d.open) { d.dataset.printOpened = "1"; d.open = true; }
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-print-opened]").forEach(function (d) {
      d.open = false; delete d.dataset.printOpened;
    });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var action = button.dataset.action;
    if (action === "print") {
      window.print();
    } else if (action === "add-row") {
      addRow(button);
    } else if (action === "remove-row") {
      removeRow(button);
    }
  });

  // ------------------------------------------------------------------ pain-score rows
  function renumber(tbody) {
    tbody.querySelectorAll("tr").forEach(function (row, i) {
      var n = i + 1;
      var inputs = row.querySelectorAll("input");
      if (inputs[0]) inputs[0].setAttribute("aria-label", "Day of pain score " + n);
      if (inputs[1]) inputs[1].setAttribute("aria-label", "Pain score " + n + " (0-10)");
      var remove = row.querySelector("[data-action=remove-row]");
      if (remove) remove.setAttribute("aria-label", "Remove pain score row " + n);
    });
  }

  function addRow(button) {
    var tbody = document.querySelector("[data-rows=" + button.dataset.target + "]");
    if (!tbody) return;
    var last = tbody.querySelector("tr:last-child");
    if (!last) return;
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    tbody.appendChild(row);
    renumber(tbody);
    row.querySelector("input").focus();
  }

  function removeRow(button) {
    var row = button.closest("tr");
    var tbody = row.parentElement;
    if (tbody.querySelectorAll("tr").length > 1) {
      row.remove();
    } else {
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    }
    renumber(tbody);
    var first = tbody.querySelector("input");
    if (first) first.focus();
  }

  // ------------------------------------------------------------------ interview
  function focusQuestion() {
    var heading = document.getElementById("question-text");
    if (heading) heading.focus();
  }

  function swapInterview(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("question-region");
    var region = document.getElementById("question-region");
    if (!fresh || !region || !fresh.querySelector("#question-form")) {
      // finished (or an error page): load it as a page of its own rather than announce it all
      window.location.assign(url);
      return;
    }
    region.innerHTML = fresh.innerHTML;
    document.title = doc.title;
    if (url && url !== window.location.href) window.history.pushState({}, "", url);
    focusQuestion();
  }

  function submitInterview(form, submitter) {
    var data = new FormData(form, submitter || undefined);
    var busy = form.querySelectorAll("button");
    busy.forEach(function (b) { b.disabled = true; });
    // getAttribute: form.action would be the button named "action"
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      return response.text().then(function (text) { swapInterview(text, response.url); });
    }).catch(function () {
      form.submit();
    });
  }

  onReady(function () {
    var interview = document.getElementById("interview");
    if (!interview) return;
    interview.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.matches("form")) return;
      if (!form.closest("#question-region")) return;
      if (!/\/interview\/[^/]+\/(answer|undo)$/.test(form.getAttribute("action") || "")) return;
      event.preventDefault();
      submitInterview(form, event.submitter);
    });
    window.addEventListener("popstate", function () { window.location.reload(); });
    if (document.querySelector(".question-form .field-error")) focusQuestion();
  });
})();
