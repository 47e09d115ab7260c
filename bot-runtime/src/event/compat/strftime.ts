// Python's datetime.strftime and str(datetime) for naive (UTC) datetimes, C locale: what IntelMQ's
// outputs use to format file names and values.
import type { StrptimeResult } from "./datetime.ts";

/** A naive (UTC) date and time, as strptime gives it. */
export type DateParts = Pick<
  StrptimeResult,
  "year" | "month" | "day" | "hour" | "minute" | "second" | "microsecond"
>;
type Wall = DateParts;

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const pad = (n: number, width = 2, fill = "0") => String(n).padStart(width, fill);

function dayOfYear(w: Wall): number {
  return (Date.UTC(w.year, w.month - 1, w.day) - Date.UTC(w.year, 0, 1)) / 86_400_000 + 1;
}
/** 0 = Monday … 6 = Sunday. */
function weekday(w: Wall): number {
  return (new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay() + 6) % 7;
}
function isoWeek(w: Wall): { year: number; week: number } {
  const date = new Date(Date.UTC(w.year, w.month - 1, w.day));
  date.setUTCDate(date.getUTCDate() + 3 - weekday(w)); // the Thursday of this ISO week
  const year = date.getUTCFullYear();
  return { year, week: Math.floor((date.getTime() - Date.UTC(year, 0, 1)) / 604_800_000) + 1 };
}

/** Python's strftime in the C locale for a UTC datetime, the directives glibc and Python provide. */
export function strftime(w: Wall, format: string): string {
  return format.replace(/%(.)/gs, (_, d: string) => {
    const wd = weekday(w);
    const h12 = w.hour % 12 === 0 ? 12 : w.hour % 12;
    switch (d) {
      case "a":
        return (DAYS[wd] as string).slice(0, 3);
      case "A":
        return DAYS[wd] as string;
      case "b":
      case "h":
        return (MONTHS[w.month - 1] as string).slice(0, 3);
      case "B":
        return MONTHS[w.month - 1] as string;
      case "c":
        return strftime(w, "%a %b %e %H:%M:%S %Y");
      case "C":
        return pad(Math.floor(w.year / 100));
      case "d":
        return pad(w.day);
      case "D":
        return strftime(w, "%m/%d/%y");
      case "e":
        return pad(w.day, 2, " ");
      case "f":
        return pad(w.microsecond, 6);
      case "F":
        return strftime(w, "%Y-%m-%d");
      case "g":
        return pad(isoWeek(w).year % 100);
      case "G":
        return String(isoWeek(w).year);
      case "H":
        return pad(w.hour);
      case "I":
        return pad(h12);
      case "j":
        return pad(dayOfYear(w), 3);
      case "k":
        return pad(w.hour, 2, " ");
      case "l":
        return pad(h12, 2, " ");
      case "m":
        return pad(w.month);
      case "M":
        return pad(w.minute);
      case "n":
        return "\n";
      case "p":
        return w.hour < 12 ? "AM" : "PM";
      case "R":
        return strftime(w, "%H:%M");
      case "s":
        return String(Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) / 1000);
      case "S":
        return pad(w.second);
      case "t":
        return "\t";
      case "T":
      case "X":
        return strftime(w, "%H:%M:%S");
      case "u":
        return String(wd + 1);
      case "U":
        return pad(Math.floor((dayOfYear(w) + 6 - ((wd + 1) % 7)) / 7));
      case "V":
        return pad(isoWeek(w).week);
      case "w":
        return String((wd + 1) % 7);
      case "W":
        return pad(Math.floor((dayOfYear(w) + 6 - wd) / 7));
      case "x":
        return strftime(w, "%m/%d/%y");
      case "y":
        return pad(w.year % 100);
      case "Y":
        return String(w.year);
      case "z":
      case "Z":
        return ""; // naive datetimes have no zone, as in Python
      case "%":
        return "%";
      default:
        throw new Error(`unsupported strftime directive %${d}`);
    }
  });
}

/** str() of a naive datetime: "2024-05-01 10:00:00" (microseconds only when set). */
export function datetimeStr(w: Wall): string {
  const fraction = w.microsecond ? `.${pad(w.microsecond, 6)}` : "";
  return `${strftime(w, "%Y-%m-%d %H:%M:%S")}${fraction}`;
}
