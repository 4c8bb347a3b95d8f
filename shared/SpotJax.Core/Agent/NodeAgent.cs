namespace SpotJax.Core.Agent;

/// <summary>The node agent script that <c>launch</c> installs on every worker.</summary>
public static class NodeAgent
{
    public const string FileName = "spotjax_agent.py";

    /// <summary>The agent's source, embedded in this assembly.</summary>
    public static byte[] Source()
    {
        using var stream = typeof(NodeAgent).Assembly.GetManifestResourceStream(FileName)
            ?? throw new InvalidOperationException("the node agent is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
