import { TimeZone } from 'aws-cdk-lib';

/**
 * A day of the week, for `StagingSchedule.workingHours()` / `working_hours()`.
 */
export enum StagingWeekday {
  /** Monday. */
  MONDAY = 'MON',
  /** Tuesday. */
  TUESDAY = 'TUE',
  /** Wednesday. */
  WEDNESDAY = 'WED',
  /** Thursday. */
  THURSDAY = 'THU',
  /** Friday. */
  FRIDAY = 'FRI',
  /** Saturday. */
  SATURDAY = 'SAT',
  /** Sunday. */
  SUNDAY = 'SUN',
}

/**
 * When the services of a sleeping environment run.
 */
export interface StagingWorkingHoursOptions {
  /** Time of day the services wake up, as `HH:MM` (24-hour clock), e.g. `'08:00'`. */
  readonly start: string;

  /** Time of day the services go to sleep, as `HH:MM` (24-hour clock), after `start` on the same day, e.g. `'20:00'`. */
  readonly end: string;

  /**
   * The time zone of `start` and `end`, e.g. `TimeZone.EUROPE_BERLIN`. Daylight saving time is
   * followed: the services wake at 08:00 local time all year.
   *
   * A canonical name, as Application Auto Scaling requires: an old or merged name (`US/Eastern`,
   * `Asia/Calcutta`) fails at synth with the current one. A fixed offset (`EST`, `Etc/GMT+5`) has no
   * daylight saving time and gets a warning.
   */
  readonly timeZone: TimeZone;

  /**
   * The days the services run. On the other days they sleep all day.
   *
   * @default - Monday to Friday
   */
  readonly days?: StagingWeekday[];
}

/**
 * When the services of an environment run. Outside working hours they scale to zero tasks with
 * Application Auto Scaling scheduled actions (no function, no extra charge), and back to their
 * daytime capacity at the start of the next working day.
 *
 * Set it on the environment (`schedule`, every service) or on one service (its own `schedule`,
 * which wins; `StagingSchedule.alwaysOn()` / `always_on()` keeps one service running around the clock).
 */
export class StagingSchedule {
  /**
   * Services run from `start` to `end` on the given days (Monday to Friday by default) and sleep
   * with zero tasks the rest of the week.
   *
   * @param options the working hours, their time zone and days
   */
  public static workingHours(options: StagingWorkingHoursOptions): StagingSchedule {
    return new StagingSchedule(options);
  }

  /** Services run around the clock: the default, and how one service opts out of the environment's schedule. */
  public static alwaysOn(): StagingSchedule {
    return new StagingSchedule(undefined);
  }

  /** The working hours, or none for a service that runs around the clock. */
  public readonly hours?: StagingWorkingHoursOptions;

  private constructor(hours: StagingWorkingHoursOptions | undefined) {
    this.hours = hours;
  }
}
