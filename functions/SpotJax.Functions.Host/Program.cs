using SpotJax.Functions.Host;

return await HostProgram.RunAsync(Environment.GetEnvironmentVariables());
