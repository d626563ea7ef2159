// The email status page follows its send: every 3 seconds it asks for the status, and reloads the page
// (which then says sent or failed) once it changes. No timed refresh of the page itself, which would take
// a screen reader's place away; without this script the "Check again" link does the same.
(function () {
  var box = document.querySelector("[data-follow]");
  if (!box || !window.fetch) return;
  var first = null;
  function ask() {
    fetch(box.getAttribute("data-follow"), {credentials: "same-origin"})
      .then(function (answer) { return answer.json(); })
      .then(function (state) {
        if (first === null) first = state.status;
        if (state.status !== first || state.status === "sent" || state.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(ask, 3000);
        }
      })
      .catch(function () { window.setTimeout(ask, 10000); });
  }
  window.setTimeout(ask, 3000);
})();
