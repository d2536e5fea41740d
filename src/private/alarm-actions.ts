import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sns from 'aws-cdk-lib/aws-sns';

/** Sends an alarm's ALARM and OK transitions to the topic. */
export function notify(alarm: cloudwatch.Alarm, topic: sns.ITopic): void {
  const action: cloudwatch.IAlarmAction = { bind: () => ({ alarmActionArn: topic.topicArn }) };
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
}
