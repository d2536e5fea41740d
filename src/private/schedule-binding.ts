import { Annotations, TimeZone, Token } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { IConstruct } from 'constructs';
import { StagingValidationError, withPythonNames } from './errors';
import { BACKWARD_LINKS } from './time-zone-links';
import { StagingSchedule, StagingWeekday } from '../schedule';

/**
 * The days of the week in the order of cron's day-of-week field, 1 (SUN) to 7 (SAT): ranges must
 * run forwards in it (https://docs.aws.amazon.com/autoscaling/application/userguide/scheduled-scaling-using-cron-expressions.html,
 * which follows the EventBridge cron reference).
 */
const WEEKDAY_ORDER = [
  StagingWeekday.SUNDAY, StagingWeekday.MONDAY, StagingWeekday.TUESDAY, StagingWeekday.WEDNESDAY,
  StagingWeekday.THURSDAY, StagingWeekday.FRIDAY, StagingWeekday.SATURDAY,
];
/** Monday to Friday: the default working days. */
const WORKING_WEEK = WEEKDAY_ORDER.slice(1, 6);

/** The validated form of a working-hours schedule: minutes after midnight, days in cron order. */
export interface ResolvedWorkingHours {
  readonly startMinutes: number;
  readonly endMinutes: number;
  readonly days: StagingWeekday[];
  readonly timeZone: TimeZone;
}

/**
 * Checks a schedule given as `prop` and returns its working hours in minutes, or undefined when it
 * runs around the clock. Fails at synth with the prop, the value and the fix.
 */
export function resolveSchedule(scope: IConstruct, prop: string, schedule: StagingSchedule | undefined): ResolvedWorkingHours | undefined {
  const hours = schedule?.hours;
  if (!hours) {
    return undefined;
  }
  const startMinutes = parseTimeOfDay(scope, `${prop}.start`, hours.start);
  const endMinutes = parseTimeOfDay(scope, `${prop}.end`, hours.end);
  if (endMinutes <= startMinutes) {
    throw new StagingValidationError(scope,
      `${prop}.end ('${hours.end}') must be after ${prop}.start ('${hours.start}') on the same day; working hours that span midnight are not supported: `
      + 'end the day at 23:59 at the latest');
  }
  const zone = hours.timeZone?.timezoneName;
  if (!Token.isUnresolved(zone)) {
    validateTimeZone(scope, `${prop}.timeZone`, zone);
  }
  const given = hours.days ?? WORKING_WEEK;
  if (given.length === 0) {
    throw new StagingValidationError(scope,
      `${prop}.days is empty: the services would never run; list at least one day, leave days out for Monday to Friday, or use StagingSchedule.alwaysOn()`);
  }
  const unknown = given.filter((d) => !WEEKDAY_ORDER.includes(d));
  if (unknown.length > 0) {
    throw new StagingValidationError(scope, `${prop}.days holds '${unknown.join("', '")}', not a StagingWeekday; use StagingWeekday.MONDAY to StagingWeekday.SUNDAY`);
  }
  const days = WEEKDAY_ORDER.filter((d) => given.includes(d));
  return { startMinutes, endMinutes, days, timeZone: hours.timeZone };
}

/** Parses `HH:MM` (00:00 to 23:59) into minutes after midnight. */
function parseTimeOfDay(scope: IConstruct, prop: string, value: string): number {
  const match = typeof value === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value) : null;
  if (!match) {
    throw new StagingValidationError(scope, `${prop} must be a time of day as HH:MM on a 24-hour clock, from 00:00 to 23:59 (got '${value}'); e.g. '08:00'`);
  }
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Application Auto Scaling takes "the canonical names of the IANA time zones supported by
 * Joda-Time (such as Etc/GMT+9 or Pacific/Tahiti)"
 * (https://docs.aws.amazon.com/autoscaling/application/userguide/scheduled-scaling-using-cron-expressions.html).
 * Node's ICU database knows the same zones; it matches names without regard to case, which the
 * service does not, so a name that ICU knows under other capitals is refused too. ICU cannot tell
 * an old name from a canonical one (it keeps CLDR's names, some of them old: Asia/Calcutta), so the
 * old and merged names come from the `backward` file of Joda-Time's tz data (BACKWARD_LINKS), and a
 * name ICU knows outside both lists (PST) is refused as well.
 */
function validateTimeZone(scope: IConstruct, prop: string, zone: string | undefined): void {
  let resolved: string | undefined;
  try {
    resolved = zone ? new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone : undefined;
  } catch {
    resolved = undefined;
  }
  if (!resolved) {
    throw new StagingValidationError(scope,
      `${prop} '${zone}' is not an IANA time zone; use one of the TimeZone constants of aws-cdk-lib (e.g. TimeZone.EUROPE_BERLIN) or TimeZone.of('Area/City')`);
  }
  if (resolved !== zone && resolved.toLowerCase() === zone!.toLowerCase()) {
    throw new StagingValidationError(scope, `${prop} '${zone}' must be spelt with its capitals, '${resolved}': Application Auto Scaling matches time zones exactly`);
  }
  // EST, MST, HST and Etc/GMT+5 name fixed offsets: valid, but rarely what a team means by its working hours.
  if (FIXED_OFFSET_ZONE.test(zone!)) {
    Annotations.of(scope).addWarningV2('cdk-ecs-staging:fixed-offset-time-zone', withPythonNames(
      `${prop} '${zone}' is a fixed offset from UTC, without daylight saving time: the services wake and sleep at the same UTC time all year, `
      + 'an hour off local time in summer wherever clocks change (EST is not the time of New York in summer). For local time, use the zone of a place, '
      + 'e.g. TimeZone.AMERICA_NEW_YORK; acknowledge this warning if the fixed offset is meant.'));
    return;
  }
  // UTC is a link to Etc/UTC in tz, and the service's own default.
  const target = zone === 'UTC' ? undefined : BACKWARD_LINKS[zone!] ?? (isCanonical(zone!, resolved) ? undefined : resolved);
  if (target !== undefined) {
    throw new StagingValidationError(scope,
      `${prop} '${zone}' is an alias, not a canonical IANA time zone, which Application Auto Scaling requires; use '${target}'`
      + (cdkConstants().has(target) ? ` (TimeZone.${cdkConstants().get(target)})` : ''));
  }
}

/** EST, MST, HST and Etc/GMT+N / Etc/GMT-N (N from 1 to 14; Etc/GMT+0 is a link to Etc/GMT): zones of one offset all year. */
const FIXED_OFFSET_ZONE = /^(EST|MST|HST|Etc\/GMT[+-]([1-9]|1[0-4]))$/;

/**
 * A name that is no backward link is canonical when ICU lists it, when aws-cdk-lib offers it as a
 * TimeZone constant, or when ICU's own name for it is the old name it replaced (Asia/Kolkata,
 * which ICU calls Asia/Calcutta).
 */
function isCanonical(zone: string, resolved: string): boolean {
  return icuZones().has(zone) || cdkConstants().has(zone) || BACKWARD_LINKS[resolved] === zone;
}

let icu: Set<string> | undefined;
function icuZones(): Set<string> {
  icu ??= new Set(Intl.supportedValuesOf('timeZone'));
  return icu;
}

let cdk: Map<string, string> | undefined;
/** aws-cdk-lib's TimeZone constants: zone name to constant name. */
function cdkConstants(): Map<string, string> {
  cdk ??= new Map(Object.entries(TimeZone)
    .filter((entry): entry is [string, TimeZone] => entry[1] instanceof TimeZone)
    .map(([constant, z]) => [z.timezoneName, constant]));
  return cdk;
}

/** The days as a cron day-of-week field: runs of three or more days as ranges (`MON-FRI`), the rest listed. */
function cronDays(days: StagingWeekday[]): string {
  const indexes = days.map((d) => WEEKDAY_ORDER.indexOf(d)).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < indexes.length;) {
    let j = i;
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j] + 1) j++;
    if (j - i >= 2) {
      parts.push(`${WEEKDAY_ORDER[indexes[i]]}-${WEEKDAY_ORDER[indexes[j]]}`);
    } else {
      for (let k = i; k <= j; k++) parts.push(WEEKDAY_ORDER[indexes[k]]);
    }
    i = j + 1;
  }
  return parts.join(',');
}

/** The capacity a scheduled service runs with during working hours. */
export interface DaytimeCapacity {
  readonly minCapacity: number;
  readonly maxCapacity: number;
}

/**
 * Puts a service on its working hours with two scheduled actions of its scalable target:
 *
 * - "Awake", every hour of the working day from `start` (08:00, 09:00, ... 19:00 for 08:00-20:00):
 *   the daytime minimum and maximum. At `start` it wakes the service; in the hours after, it puts
 *   back the daytime minimum should a stack update have registered the target again meanwhile.
 * - "Asleep", at `end`: minimum and maximum 0, which stops every task.
 *
 * The scalable target itself holds minimum 0 and the daytime maximum, and the service no
 * DesiredCount: CloudFormation registers the target again whenever its properties change, and
 * Application Auto Scaling then moves the count into [min, max]
 * (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html),
 * so with minimum 0 a deploy at night leaves a sleeping service asleep and one in the day leaves
 * the running tasks running. Scheduled actions follow the time zone's daylight saving time
 * (https://docs.aws.amazon.com/autoscaling/application/userguide/scheduled-scaling-using-cron-expressions.html).
 */
export function applyWorkingHours(scaling: ecs.ScalableTaskCount, hours: ResolvedWorkingHours, daytime: DaytimeCapacity): void {
  const startHour = Math.floor(hours.startMinutes / 60);
  const minute = hours.startMinutes % 60;
  // The last whole hour after start (at start's minute) that is still before end.
  const lastHour = Math.floor((hours.endMinutes - 1 - minute) / 60);
  const weekDay = cronDays(hours.days);
  scaling.scaleOnSchedule('Awake', {
    schedule: appscaling.Schedule.cron({ minute: String(minute), hour: lastHour > startHour ? `${startHour}-${lastHour}` : String(startHour), weekDay }),
    minCapacity: daytime.minCapacity,
    maxCapacity: daytime.maxCapacity,
    timeZone: hours.timeZone,
  });
  scaling.scaleOnSchedule('Asleep', {
    schedule: appscaling.Schedule.cron({ minute: String(hours.endMinutes % 60), hour: String(Math.floor(hours.endMinutes / 60)), weekDay }),
    minCapacity: 0,
    maxCapacity: 0,
    timeZone: hours.timeZone,
  });
}

/** The two EventBridge Scheduler expressions of a preview's working hours, in the schedule's time zone. */
export interface WakeAndSleepExpressions {
  /** At `start` on the working days. */
  readonly wake: string;
  /** At `end` on every day of the week: a push outside working hours wakes a preview until the next `end`. */
  readonly sleep: string;
  /** The IANA time zone both follow, daylight saving time included. */
  readonly timeZone: string;
}

/**
 * The working hours as EventBridge Scheduler cron expressions
 * (`cron(minutes hours day-of-month month day-of-week year)`, one of day-of-month and day-of-week
 * `?`: https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based),
 * evaluated in the time zone (`ScheduleExpressionTimezone`), so daylight saving time is followed.
 */
export function wakeAndSleepExpressions(hours: ResolvedWorkingHours): WakeAndSleepExpressions {
  const at = (minutes: number) => `${minutes % 60} ${Math.floor(minutes / 60)}`;
  return {
    wake: `cron(${at(hours.startMinutes)} ? * ${cronDays(hours.days)} *)`,
    sleep: `cron(${at(hours.endMinutes)} * * ? *)`,
    timeZone: hours.timeZone.timezoneName,
  };
}
