// The dashboard's only script: local times and copy buttons. Every page works without it
// (times then show in UTC; links can be selected and copied by hand).
"use strict";

function localTimes() {
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = el.textContent;
      el.textContent = format.format(when);
    }
  });
}

function copyButtons() {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select();
        });
      } else {
        field.select();
        document.execCommand("copy");
        done();
      }
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  localTimes();
  copyButtons();
});
