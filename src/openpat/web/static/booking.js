// Booking form: picking a visit sets the date inside its window (the field's min and max)
// and shows the room only for a visit that needs one.
(function () {
  "use strict";
  var visit = document.getElementById("book-visit");
  var date = document.getElementById("book-date");
  var roomField = document.getElementById("book-room-field");
  var room = document.getElementById("book-room");
  if (!visit || !date) return;
  function update() {
    var o = visit.options[visit.selectedIndex];
    date.min = o.dataset.earliest;
    date.max = o.dataset.latest;
    if (!date.value || date.value < date.min || date.value > date.max) date.value = o.dataset.target;
    var needsRoom = o.dataset.room === "yes";
    roomField.hidden = !needsRoom;
    room.disabled = !needsRoom;
  }
  visit.addEventListener("change", update);
  update();
})();
