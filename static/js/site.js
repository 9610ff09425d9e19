// Progressive enhancement only: the site works without this file.
(function () {
  "use strict";

  // The copy-link button needs JavaScript, so it stays hidden until this runs.
  function reveal(root) {
    root.querySelectorAll("[data-copy-url][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function say(button, text) {
    var status = button.parentElement.querySelector(".copy-status");
    if (status) {
      status.textContent = text;
    }
  }

  function fallbackCopy(text) {
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "visually-hidden";
    document.body.appendChild(field);
    field.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    field.remove();
    return copied;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-url]");
    if (!button) {
      return;
    }
    var url = button.getAttribute("data-copy-url");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(
        function () { say(button, "Link copied."); },
        function () { say(button, fallbackCopy(url) ? "Link copied." : "Copy failed: use the permalink."); }
      );
    } else {
      say(button, fallbackCopy(url) ? "Link copied." : "Copy failed: use the permalink.");
    }
  });

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  // New cards arrive through htmx: reveal their buttons too.
  document.addEventListener("htmx:load", function (event) { reveal(event.target); });
})();
