{% comment %}Keyboard review for the generated-description admin; served by the admin (no inline code under the CSP).{% endcomment %}
(function () {
  "use strict";

  function typing(event) {
    const target = event.target;
    return event.ctrlKey || event.metaKey || event.altKey ||
      (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));
  }

  function listPage() {
    const rows = Array.from(document.querySelectorAll("#result_list tbody tr"));
    if (!rows.length) {
      return;
    }
    let current = 0;
    const show = function (index) {
      rows[current].classList.remove("review-current");
      current = Math.max(0, Math.min(rows.length - 1, index));
      rows[current].classList.add("review-current");
      rows[current].scrollIntoView({block: "nearest"});
    };
    const bulk = function (action) {
      const select = document.querySelector("#changelist-form select[name=action]");
      const go = document.querySelector("#changelist-form button[name=index]");
      if (!select || !go || !document.querySelector("#result_list input.action-select:checked")) {
        return;
      }
      select.value = action;
      go.click();
    };
    const decide = function (name) {
      const button = rows[current].querySelector('button[name=decide][value^="' + name + ':"]');
      if (button) {
        button.click();
      }
    };
    show(0);
    document.addEventListener("keydown", function (event) {
      if (typing(event)) {
        return;
      }
      const handlers = {
        j: function () { show(current + 1); },
        k: function () { show(current - 1); },
        x: function () {
          const box = rows[current].querySelector("input.action-select");
          if (box) {
            box.click();
          }
        },
        a: function () { decide("approve"); },
        r: function () { decide("reject"); },
        A: function () { bulk("approve_selected"); },
        R: function () { bulk("reject_selected"); },
        H: function () { bulk("hold_selected"); },
        o: function () {
          const link = rows[current].querySelector("th a, td a");
          if (link) {
            link.click();
          }
        },
      };
      const handler = handlers[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });
  }

  function detailPage() {
    const buttons = document.querySelectorAll(".moderation-bar button[data-key]");
    if (!buttons.length) {
      return;
    }
    document.addEventListener("keydown", function (event) {
      if (typing(event)) {
        return;
      }
      const button = document.querySelector('.moderation-bar button[data-key="' + event.key + '"]');
      if (button) {
        event.preventDefault();
        button.click();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    listPage();
    detailPage();
  });
})();
