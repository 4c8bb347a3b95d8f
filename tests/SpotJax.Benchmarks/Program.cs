using SpotJax.Benchmarks;

return await RecoveryLatency.RunAsync(args);
