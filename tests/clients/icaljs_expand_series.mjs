// Reads .ics files with Mozilla's ical.js (the parser behind Thunderbird's calendar) and
// prints, for each file, every occurrence it expands: RRULE and EXDATE through ICAL.Event's
// iterator(), RECURRENCE-ID overrides related with relateException() and applied by
// getOccurrenceDetails(), times through the file's own VTIMEZONEs (ical.js has no others).
// An override without its master (a CANCEL of one occurrence) is read as that occurrence.
//
// Output: [[{uid, recurrence_id_utc, start_utc, end_utc, status, summary, sequence}, ...], ...]
// one list per file, sorted by (start_utc, uid). Exits non-zero with a message on anything it
// cannot read.
//
// usage: node icaljs_expand_series.mjs FILE.ics [FILE.ics ...]
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const MAX_OCCURRENCES = 10000; // every series we write has an UNTIL; this stops a runaway rule

function utc(time, what, uid) {
  if (time === null || time === undefined) {
    throw new Error(`${uid}: no ${what}`);
  }
  if (time.isDate) {
    throw new Error(`${uid}: ${what} is a DATE, not a DATE-TIME`);
  }
  if (time.zone === ICAL.Timezone.localTimezone) {
    throw new Error(`${uid}: ${what} is a floating time or names an unknown TZID`);
  }
  return new Date(time.toUnixTime() * 1000).toISOString().replace(".000Z", "Z");
}

function occurrence(item, recurrenceId, start, end) {
  return {
    uid: item.uid,
    recurrence_id_utc: recurrenceId === null ? null : utc(recurrenceId, "RECURRENCE-ID", item.uid),
    start_utc: utc(start, "DTSTART", item.uid),
    end_utc: utc(end, "DTEND", item.uid),
    status: item.component.getFirstPropertyValue("status"),
    summary: item.summary,
    sequence: item.sequence,
  };
}

function checkZones(vevent, uid) {
  for (const prop of vevent.getAllProperties()) {
    const tzid = prop.getParameter("tzid");
    if (tzid && !ICAL.TimezoneService.has(tzid)) {
      throw new Error(`${uid}: ${prop.name.toUpperCase()} names TZID ${tzid} without a VTIMEZONE`);
    }
  }
}

function read(path) {
  const calendar = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
  // Zones are registered per file: one file's VTIMEZONE must not serve another's TZID.
  ICAL.TimezoneService.reset();
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(vtimezone);
  }
  const byUid = new Map();
  for (const vevent of calendar.getAllSubcomponents("vevent")) {
    const uid = vevent.getFirstPropertyValue("uid");
    checkZones(vevent, uid);
    if (!byUid.has(uid)) {
      byUid.set(uid, { masters: [], exceptions: [] });
    }
    const group = byUid.get(uid);
    (vevent.hasProperty("recurrence-id") ? group.exceptions : group.masters).push(vevent);
  }
  const out = [];
  for (const [uid, { masters, exceptions }] of byUid) {
    if (masters.length > 1) {
      throw new Error(`${uid}: ${masters.length} VEVENTs without RECURRENCE-ID`);
    }
    if (masters.length === 0) {
      for (const vevent of exceptions) {
        const event = new ICAL.Event(vevent);
        out.push(occurrence(event, event.recurrenceId, event.startDate, event.endDate));
      }
      continue;
    }
    const master = new ICAL.Event(masters[0], { strictExceptions: true, exceptions });
    if (!master.isRecurring()) {
      out.push(occurrence(master, null, master.startDate, master.endDate));
      continue;
    }
    const iterator = master.iterator();
    let next;
    let count = 0;
    while ((next = iterator.next())) {
      if (++count > MAX_OCCURRENCES) {
        throw new Error(`${uid}: more than ${MAX_OCCURRENCES} occurrences`);
      }
      const details = master.getOccurrenceDetails(next);
      out.push(occurrence(details.item, details.recurrenceId, details.startDate, details.endDate));
    }
  }
  out.sort((a, b) =>
    a.start_utc < b.start_utc ? -1 : a.start_utc > b.start_utc ? 1 : a.uid < b.uid ? -1 : 1,
  );
  return out;
}

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error("usage: node icaljs_expand_series.mjs FILE.ics [FILE.ics ...]");
  process.exit(2);
}
process.stdout.write(JSON.stringify(paths.map(read)));
