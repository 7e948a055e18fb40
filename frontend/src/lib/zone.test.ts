import { describe, expect, it } from "vitest";
import { periodLabel, timeAxisLabels } from "./axis";
import { fromZonedInput, ianaZone, toZonedInput, zoneOffsetMs } from "./zone";

describe("custom range inputs in the chosen zone", () => {
  it("show an instant as the zone's wall clock", () => {
    const at = "2026-07-01T12:34:56Z";
    expect(toZonedInput(at, "UTC")).toBe("2026-07-01T12:34");
    expect(toZonedInput(at, "Europe/Berlin")).toBe("2026-07-01T14:34");
    expect(toZonedInput(at, "America/New_York")).toBe("2026-07-01T08:34");
    expect(toZonedInput(at, "Asia/Kolkata")).toBe("2026-07-01T18:04");
    expect(toZonedInput("2026-12-31T23:30:00Z", "Pacific/Auckland")).toBe("2027-01-01T12:30");
    expect(toZonedInput(undefined, "UTC")).toBe("");
    expect(toZonedInput("garbage", "UTC")).toBe("");
  });

  it("read a wall clock in the zone back as the same instant", () => {
    expect(fromZonedInput("2026-07-01T14:34", "Europe/Berlin")).toBe("2026-07-01T12:34:00.000Z");
    expect(fromZonedInput("2026-01-15T14:34", "Europe/Berlin")).toBe("2026-01-15T13:34:00.000Z");
    expect(fromZonedInput("2026-07-01T08:34", "America/New_York")).toBe("2026-07-01T12:34:00.000Z");
    expect(fromZonedInput("2026-07-01T18:04", "Asia/Kolkata")).toBe("2026-07-01T12:34:00.000Z");
    expect(fromZonedInput("2027-01-01T12:30", "Pacific/Auckland")).toBe("2026-12-31T23:30:00.000Z");
    expect(fromZonedInput("2026-11-27T00:00", "UTC")).toBe("2026-11-27T00:00:00.000Z");
    for (const zone of ["UTC", "Europe/Berlin", "America/Los_Angeles", "Australia/Adelaide"]) {
      for (const iso of ["2026-03-08T10:15:00.000Z", "2026-10-25T00:45:00.000Z", "2026-04-05T16:00:00.000Z"]) {
        expect(fromZonedInput(toZonedInput(iso, zone), zone), `${iso} in ${zone}`).toBe(iso);
      }
    }
  });

  it("handle daylight saving changes: the first of a repeated hour, and a skipped hour moves on", () => {
    // Berlin, 25 Oct 2026: 02:00–03:00 happens twice (first at +02:00, then at +01:00).
    expect(fromZonedInput("2026-10-25T02:30", "Europe/Berlin")).toBe("2026-10-25T00:30:00.000Z");
    // Berlin, 29 Mar 2026: 02:00–03:00 never happens; 02:30 is read as 03:30 (+02:00), as browsers do.
    expect(fromZonedInput("2026-03-29T02:30", "Europe/Berlin")).toBe("2026-03-29T01:30:00.000Z");
    expect(toZonedInput("2026-03-29T01:30:00Z", "Europe/Berlin")).toBe("2026-03-29T03:30");
    // New York, 8 Mar 2026: 02:30 does not exist either.
    expect(fromZonedInput("2026-03-08T02:30", "America/New_York")).toBe("2026-03-08T07:30:00.000Z");
  });

  it("reject what is not a date-time", () => {
    expect(fromZonedInput("", "UTC")).toBeNull();
    expect(fromZonedInput("2026-11-27", "UTC")).toBeNull();
    expect(fromZonedInput("27/11/2026 10:00", "UTC")).toBeNull();
  });

  it("know the offsets and the IANA name of the local zone", () => {
    expect(zoneOffsetMs(Date.parse("2026-07-01T00:00:00Z"), "Europe/Berlin")).toBe(2 * 3_600_000);
    expect(zoneOffsetMs(Date.parse("2026-01-01T00:00:00Z"), "Asia/Kolkata")).toBe(5.5 * 3_600_000);
    expect(zoneOffsetMs(Date.parse("2026-01-01T00:00:00.999Z"), "UTC")).toBe(0);
    expect(ianaZone("Europe/Paris")).toBe("Europe/Paris");
    expect(ianaZone("local")).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});

describe("chart time axis", () => {
  const s = (iso: string) => Date.parse(iso) / 1000;

  it("uses the 24-hour clock and names each new day under its first tick", () => {
    const ticks = ["2026-11-26T18:00:00Z", "2026-11-26T21:00:00Z", "2026-11-27T00:00:00Z", "2026-11-27T03:00:00Z"].map(
      s,
    );
    expect(timeAxisLabels(ticks, 3 * 3600, "UTC")).toEqual(["18:00\n26 Nov", "21:00", "00:00\n27 Nov", "03:00"]);
  });

  it("labels the same instants in the chosen zone", () => {
    const ticks = ["2026-11-26T18:00:00Z", "2026-11-26T21:00:00Z", "2026-11-27T00:00:00Z"].map(s);
    expect(timeAxisLabels(ticks, 3 * 3600, "Asia/Tokyo")).toEqual(["03:00\n27 Nov", "06:00", "09:00"]);
    expect(timeAxisLabels(ticks, 3 * 3600, "America/New_York")).toEqual(["13:00\n26 Nov", "16:00", "19:00"]);
  });

  it("shows days as the table does, with the year where it starts or changes, and months by name", () => {
    const days = ["2026-12-30T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"].map(s);
    expect(timeAxisLabels(days, 86_400, "UTC")).toEqual(["30 Dec\n2026", "31 Dec", "01 Jan\n2027"]);
    expect(timeAxisLabels([s("2026-11-01T00:00:00Z")], 30 * 86_400, "UTC")).toEqual(["Nov 2026"]);
    expect(timeAxisLabels([s("2026-11-27T10:00:30Z")], 30, "UTC")).toEqual(["10:00:30\n27 Nov"]);
  });

  it("names a period by its grain", () => {
    const at = new Date("2026-11-27T14:00:00Z");
    expect(periodLabel(at, "UTC", "hour")).toBe("27 Nov, 14:00");
    expect(periodLabel(at, "UTC", "day")).toBe("27 Nov");
    expect(periodLabel(at, "UTC", "week")).toBe("week of 27 Nov");
  });
});
