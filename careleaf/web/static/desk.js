// The desk: a leaflet chosen in the menus is shown at once, with the patient's details kept (they travel in
// the same form). Until the new leaflet is shown, the buttons that would make a PDF are disabled, so the PDF is
// always the leaflet on the screen. Without this script the server refuses a leaflet not shown, and the page
// says so.
(function () {
  var form = document.getElementById("desk-form");
  if (!form) return;
  var show = form.querySelector("button[name=action][value=show]");
  var menus = form.querySelectorAll(".choose select, .choose input[type=checkbox]");
  Array.prototype.forEach.call(menus, function (menu) {
    menu.addEventListener("change", function () {
      Array.prototype.forEach.call(form.querySelectorAll("[data-needs-shown]"), function (button) {
        button.disabled = true;
      });
      form.classList.add("changing");
      if (form.requestSubmit) form.requestSubmit(show); else show.click();
    });
  });
})();

// Keys for the counter: Alt and a button's letter (data-key) presses it, as a browser's access keys would, but
// the same in every browser (Alt+Shift in one, Alt in another) and never clashing with the browser's own menus.
(function () {
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || !event.key) return;
    var button = document.querySelector('button[data-key="' + event.key.toLowerCase() + '"]');
    if (!button || button.disabled) return;
    event.preventDefault();
    button.click();
  });
})();
