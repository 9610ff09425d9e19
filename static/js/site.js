// Progressive enhancement only: the site works without this file.
(function () {
  "use strict";

  // CSS shows the share button and the shortcut hint only once this class is set.
  document.documentElement.classList.add("js");

  // Polite live region next to the button; emptied first so a repeated message is announced again.
  function say(share, text) {
    var status = share.querySelector(".copy-status");
    if (!status) {
      return;
    }
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  // No clipboard (an insecure origin, a refused permission): show the link selected for a manual copy.
  function showLink(share) {
    var field = share.querySelector(".share-url");
    if (!field) {
      return;
    }
    field.hidden = false;
    field.focus();
    field.select();
    say(share, "Copy the selected link.");
  }

  function copy(share, url) {
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      showLink(share);
      return;
    }
    navigator.clipboard.writeText(url).then(
      function () { say(share, "Link copied"); },
      function () { showLink(share); }
    );
  }

  // Delegated from the document, so buttons on cards that htmx swaps in later work too.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".share-button");
    if (!button) {
      return;
    }
    var share = button.closest(".share");
    var url = button.getAttribute("data-copy-url");
    var data = {
      title: button.getAttribute("data-share-title") || document.title,
      text: button.getAttribute("data-share-text") || "",
      url: url,
    };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      navigator.share(data).catch(function (error) {
        // AbortError is the visitor closing the sheet; anything else falls back to copying.
        if (!error || error.name !== "AbortError") {
          copy(share, url);
        }
      });
      return;
    }
    copy(share, url);
  });

  function typingIn(element) {
    if (!element || element === document.body) {
      return false;
    }
    if (element.isContentEditable) {
      return true;
    }
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  // "n" is "Another one": a click on the link, so htmx makes the same request and pushes the same URL.
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.repeat || event.isComposing) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) {
      return;
    }
    if (event.key !== "n" && event.key !== "N") {
      return;
    }
    if (typingIn(document.activeElement)) {
      return;
    }
    var another = document.getElementById("another-one");
    // Hidden while the pool is empty (the card polls instead): then the key does nothing.
    if (!another || another.getClientRects().length === 0) {
      return;
    }
    event.preventDefault();
    another.click();
  });
})();
