using System.Globalization;

namespace SpotJax.Chaos;

/// <summary>How hard a chaos run shakes the deployment; <see cref="Short"/> is the form CI runs.</summary>
internal sealed record ChaosOptions
{
    public int Seed { get; init; } = 1;

    public int Jobs { get; init; } = 20;

    /// <summary>The CI form: fewer jobs, one planned preemption each, a tighter limit.</summary>
    public bool Short { get; init; }

    /// <summary>Planned preemptions per job (the mass preemption comes on top): from the first to the second number.</summary>
    public (int Min, int Max) PreemptionsPerJob => Short ? (1, 1) : (2, 3);

    /// <summary>Steps of the training script per job, 0.2 s each; an attempt resumes from its last checkpoint (every 3 steps).</summary>
    public int Steps => Short ? 24 : 30;

    /// <summary>Mean time between random kills of a function host.</summary>
    /// <remarks>A host takes seconds to start again on a busy machine: kills much more often keep hosts down most of the time.</remarks>
    public TimeSpan RandomKillEvery => TimeSpan.FromSeconds(8);

    /// <summary>The share of queued-resource creates, worker launches and publishes right after which the host that made them is killed.</summary>
    public double KillAfterCreate => 0.25;

    public double KillAfterLaunch => 0.25;

    public double KillAfterPublish => 0.01;

    /// <summary>The share of TPU API calls answered 429, 503, or held until the client times out; of creates failed inside the operation.</summary>
    public double RateLimitRate => 0.05;

    public double UnavailableRate => 0.05;

    public double TimeoutRate => 0.01;

    public double OperationErrorRate => 0.1;

    /// <summary>How long every job has to end, from the first submission.</summary>
    public TimeSpan Limit => Short ? TimeSpan.FromMinutes(3) : TimeSpan.FromMinutes(9);

    /// <summary>How long queued resources may take to go once every job has ended (the sweep's orphan grace is 2 minutes).</summary>
    public TimeSpan OrphanPatience => TimeSpan.FromMinutes(3);

    /// <summary>Reads <c>--seed N</c>, <c>--jobs N</c> and <c>--short</c>.</summary>
    /// <exception cref="ArgumentException">An unknown argument or a value that is not a positive number.</exception>
    public static ChaosOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ChaosOptions();
        var jobsSet = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--seed":
                    options = options with { Seed = Number(args, ++i, "--seed", 0) };
                    break;
                case "--jobs":
                    options = options with { Jobs = Number(args, ++i, "--jobs", 1) };
                    jobsSet = true;
                    break;
                case "--short":
                    options = options with { Short = true };
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'; usage: chaos [--seed N] [--jobs N] [--short]");
            }
        }

        return options.Short && !jobsSet ? options with { Jobs = 4 } : options;
    }

    private static int Number(IReadOnlyList<string> args, int index, string name, int min) =>
        index < args.Count && int.TryParse(args[index], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min
            ? value
            : throw new ArgumentException($"{name} needs a whole number of at least {min}");
}
