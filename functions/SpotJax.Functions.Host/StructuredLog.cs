using System.Text.Json;

namespace SpotJax.Functions.Host;

/// <summary>
/// Logs for Cloud Logging: one JSON object per line on stdout, with <c>severity</c>, <c>message</c>,
/// and the function, message id, job id, attempt and trace when known
/// (https://cloud.google.com/logging/docs/structured-logging).
/// </summary>
public sealed class StructuredLog(TextWriter output, string function, TimeProvider time)
{
    private readonly Lock gate = new();

    public void Write(string severity, string message, LogContext? context = null)
    {
        var entry = new Dictionary<string, object?>
        {
            ["severity"] = severity,
            ["message"] = message,
            ["time"] = time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["function"] = function,
        };
        if (context is not null)
        {
            entry["messageId"] = context.MessageId;
            entry["jobId"] = context.JobId;
            entry["attempt"] = context.Attempt;
            entry["logging.googleapis.com/trace"] = context.Trace;
        }

        var line = JsonSerializer.Serialize(entry.Where(e => e.Value is not null).ToDictionary());
        lock (gate)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    public void Info(string message, LogContext? context = null) => Write("INFO", message, context);

    public void Warning(string message, LogContext? context = null) => Write("WARNING", message, context);

    public void Error(string message, LogContext? context = null) => Write("ERROR", message, context);
}

/// <summary>What a log line says about the delivery it belongs to.</summary>
public sealed record LogContext(string? MessageId, string? JobId, int? Attempt, string? Trace);
