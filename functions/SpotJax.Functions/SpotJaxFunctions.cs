using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;

namespace SpotJax.Functions;

/// <summary>
/// The step functions built over one set of adapters. Every host (Cloud Run, local mode,
/// tests) builds them here, so they all run the same handlers.
/// </summary>
public sealed class SpotJaxFunctions
{
    private readonly Topics topics;

    public SpotJaxFunctions(
        IJobStore store,
        IMessageBus bus,
        IObjectStore objects,
        ITpuApi tpu,
        IWorkerRunner workers,
        ControlPlaneOptions options,
        TimeProvider time,
        Action<string>? warn = null,
        NotifyOptions? notify = null)
    {
        JobEventRelay? relay = null;
        if (store is IJobEventStore events)
        {
            // Every transition's event is in the outbox with it; the functions write through the store that publishes it.
            relay = new JobEventRelay(events, bus, options.Topics, time, warn);
            Notify = new NotifyFunction(store, events, new WebhookSender(WebhookHttp, time), notify ?? new NotifyOptions(), time, warn);
            store = new EventPublishingJobStore(store, relay);
        }

        var transitions = new JobTransitions(store);
        var steps = new StepPublisher(bus, options.Topics);
        topics = options.Topics;
        var submitter = new JobSubmitter(store, steps, options, time);
        Submit = new SubmitFunction(submitter, transitions, steps, time);
        BucketEvents = new BucketEventsFunction(submitter, transitions, store, objects, tpu, steps, options, time);
        Provision = new ProvisionFunction(transitions, tpu, steps, options, time);
        Launch = new LaunchFunction(transitions, store, tpu, workers, steps, options, time);
        Recover = new RecoverFunction(transitions, tpu, steps, options, time, warn);
        Finish = new FinishFunction(store, transitions, tpu, options, time, warn);
        Sweep = new SweepFunction(store, transitions, tpu, steps, options, time, warn) { Events = relay };
    }

    /// <summary>One connection pool for every webhook; each POST has its own timeout (<see cref="WebhookSender.Timeout"/>).</summary>
    private static HttpClient WebhookHttp { get; } = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public SubmitFunction Submit { get; }
    public BucketEventsFunction BucketEvents { get; }
    public ProvisionFunction Provision { get; }
    public LaunchFunction Launch { get; }
    public RecoverFunction Recover { get; }
    public FinishFunction Finish { get; }
    public SweepFunction Sweep { get; }

    /// <summary><c>notify</c>, subscribed to <see cref="Topics.JobEvents"/>; null when the store keeps no outbox.</summary>
    public NotifyFunction? Notify { get; }

    /// <summary>The function subscribed to each of the deployment's topics (one push subscription per function).</summary>
    public IReadOnlyDictionary<string, IPubSubFunction> ByTopic => new Dictionary<string, IPubSubFunction>
    {
        [topics.Jobs] = Submit,
        [topics.Provision] = Provision,
        [topics.Launch] = Launch,
        [topics.Recover] = Recover,
        [topics.Finish] = Finish,
    }.Concat(Notify is null ? [] : [new KeyValuePair<string, IPubSubFunction>(topics.JobEvents, Notify)]).ToDictionary();
}
