using SpotJax.Benchmarks;

return args switch
{
    ["ssh-launch", .. var rest] => await SshLaunch.RunAsync(rest),
    ["ssh-connect", .. var rest] => await SshConnect.RunAsync(rest),
    ["cold-start", .. var rest] => await ColdStart.RunAsync(rest),
    ["prepare-cache", .. var rest] => await PrepareCache.RunAsync(rest),
    ["log-latency", .. var rest] => await LogLatency.RunAsync(rest),
    ["launch", .. var rest] => await LaunchDuration.RunAsync(rest),
    ["concurrent", .. var rest] => await ConcurrentRecovery.RunAsync(rest),
    ["two-deployments", .. var rest] => await TwoDeployments.RunAsync(rest),
    ["scale", .. var rest] => await Scale.RunAsync(rest),
    ["backpressure", .. var rest] => await BackPressure.RunAsync(rest),
    ["notify", .. var rest] => await NotifyCost.RunAsync(rest),
    _ => await RecoveryLatency.RunAsync(args),
};
