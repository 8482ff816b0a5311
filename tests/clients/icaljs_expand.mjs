// Reads an .ics file with Mozilla's ical.js (the parser behind Thunderbird's calendar) and
// prints the events as JSON: [{uid, start_utc, end_utc, status, summary, sequence}, ...]
// sorted by (start_utc, uid). Exits non-zero with a message on anything it cannot read.
//
// usage: node icaljs_expand.mjs FILE.ics
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const RECURRENCE = ["rrule", "rdate", "exdate", "recurrence-id"];

function utc(time, what, uid) {
  if (time === null) {
    throw new Error(`${uid}: no ${what}`);
  }
  if (time.isDate) {
    throw new Error(`${uid}: ${what} is a DATE, not a DATE-TIME`);
  }
  if (time.zone === ICAL.Timezone.localTimezone) {
    throw new Error(`${uid}: ${what} is a floating time`);
  }
  // toUnixTime() converts through the event's zone (UTC or a registered VTIMEZONE).
  return new Date(time.toUnixTime() * 1000).toISOString().replace(".000Z", "Z");
}

const path = process.argv[2];
if (!path) {
  console.error("usage: node icaljs_expand.mjs FILE.ics");
  process.exit(2);
}
const calendar = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
}
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  for (const name of RECURRENCE) {
    if (vevent.hasProperty(name)) {
      // The feed writes one VEVENT per occurrence; a recurrence here is a bug.
      throw new Error(`${event.uid}: unexpected ${name.toUpperCase()}`);
    }
  }
  return {
    uid: event.uid,
    start_utc: utc(event.startDate, "DTSTART", event.uid),
    end_utc: utc(event.endDate, "DTEND", event.uid),
    status: vevent.getFirstPropertyValue("status"),
    summary: event.summary,
    sequence: event.sequence,
  };
});
events.sort((a, b) =>
  a.start_utc < b.start_utc ? -1 : a.start_utc > b.start_utc ? 1 : a.uid < b.uid ? -1 : 1,
);
process.stdout.write(JSON.stringify(events));
