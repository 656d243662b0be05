// The card page: Stripe Elements' card field; on submit Stripe.js sets the card up at Stripe
// (the number goes from this browser to Stripe) and the form posts only the SetupIntent's id.
(function () {
  "use strict";
  function start() {
    var form = document.getElementById("card-form");
    if (!form || typeof Stripe === "undefined") { return; }
    var stripe = Stripe(form.dataset.publishableKey, { locale: form.dataset.locale || "auto" });
    var card = stripe.elements().create("card");
    var error = document.getElementById("card-error");
    var button = document.getElementById("card-submit");
    card.mount("#card-element");
    form.addEventListener("submit", function (event) {
      if (document.getElementById("setup-intent").value) { return; }
      event.preventDefault();
      button.disabled = true;
      error.textContent = "";
      stripe.confirmCardSetup(form.dataset.setupSecret, { payment_method: { card: card } })
        .then(function (result) {
          if (result.error) {
            error.textContent = result.error.message || form.dataset.refused;
            button.disabled = false;
            return;
          }
          document.getElementById("setup-intent").value = result.setupIntent.id;
          form.submit();
        });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
