using System.Text;

namespace TraceStore.Engine.Ingest;

/// <summary>Checks on request metadata that arrives beside the body (the experiment id header).</summary>
public static class IngestValidation
{
    /// <summary>Longest experiment id, in UTF-8 bytes. MLflow's ids are decimal numbers; names never get here.</summary>
    public const int MaxExperimentIdBytes = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Null when <paramref name="experimentId"/> can be stored; otherwise why not.</summary>
    public static string? ExperimentIdProblem(string experimentId)
    {
        if (experimentId.Length == 0)
        {
            return "The experiment id is empty.";
        }

        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(experimentId);
        }
        catch (EncoderFallbackException)
        {
            return "The experiment id is not valid Unicode (it holds a lone surrogate).";
        }

        if (bytes > MaxExperimentIdBytes)
        {
            return $"The experiment id is longer than {MaxExperimentIdBytes} bytes.";
        }

        foreach (var c in experimentId)
        {
            if (char.IsControl(c))
            {
                return $"The experiment id contains the character U+{(int)c:X4}, which is not allowed.";
            }
        }

        return null;
    }

    internal static void CheckExperimentId(string experimentId, string parameterName)
    {
        if (ExperimentIdProblem(experimentId) is { } problem)
        {
            throw new ArgumentException(problem, parameterName);
        }
    }
}
