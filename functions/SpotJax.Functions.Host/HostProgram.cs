using System.Collections;

namespace SpotJax.Functions.Host;

/// <summary>The container's entry point: check the environment, wire the adapters, serve.</summary>
public static class HostProgram
{
    public static async Task<int> RunAsync(IDictionary environment)
    {
        FunctionHostOptions options;
        Deployment deployment;
        try
        {
            options = FunctionHostOptions.FromEnvironment(environment);
            var log = new StructuredLog(Console.Out, options.Target, TimeProvider.System);
            deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None, stepsWanted: options.Target != FunctionNames.Status, warn: message => log.Warning(message));
        }
        catch (HostConfigurationException e)
        {
            await Console.Error.WriteLineAsync($"spotjax-functions: {e.Message}");
            return 2;
        }

        await using (deployment)
        {
            var app = options.Target == FunctionNames.Status
                ? FunctionHost.BuildStatus(options, deployment.Status)
                : FunctionHost.Build(options, deployment.Functions);
            await app.RunAsync();
        }

        return 0;
    }
}
