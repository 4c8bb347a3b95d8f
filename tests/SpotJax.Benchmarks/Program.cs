using SpotJax.Benchmarks;

return args is ["ssh-launch", .. var rest]
    ? await SshLaunch.RunAsync(rest)
    : await RecoveryLatency.RunAsync(args);
