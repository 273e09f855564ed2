using System.Globalization;

namespace TraceStore.Engine.Traces;

/// <summary>
/// Times as MLflow computes and serves them: span nanoseconds to TraceInfo milliseconds (mlflow-tracing.md c.3), and
/// protobuf's JSON forms of <c>google.protobuf.Timestamp</c> and <c>google.protobuf.Duration</c> (section d).
/// </summary>
public static class MlflowTime
{
    private const double NanosPerMilli = 1e6;

    /// <summary>
    /// MLflow's <c>start_ns // 1e6</c>: Python converts the integer to a double first (round to nearest even), then
    /// floor-divides two doubles. So this is not integer division: near 1.7e18 ns doubles are 256 ns apart, and
    /// e.g. 1_763_700_000_001_000_000 ns becomes 1_763_700_000_000 ms, one less than exact division gives. Reproduced
    /// step by step from CPython's <c>float_floor_div</c> (fmod, subtract, divide, floor, round up when more than
    /// half), which gives the same doubles here since C# uses the same IEEE operations.
    /// </summary>
    public static long NanosToMillis(ulong nanos)
    {
        var vx = (double)nanos;
        var mod = vx % NanosPerMilli;
        var div = (vx - mod) / NanosPerMilli;
        if (div == 0)
        {
            return 0;
        }

        var floorDiv = Math.Floor(div);
        if (div - floorDiv > 0.5)
        {
            floorDiv += 1.0;
        }

        return (long)floorDiv;
    }

    /// <summary>RFC 3339 in UTC as protobuf's JSON mapping writes a Timestamp: no fraction for whole seconds, else
    /// 3 digits (our times are whole milliseconds), then <c>Z</c>.</summary>
    public static string TimestampJson(long unixMillis)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(unixMillis).UtcDateTime;
        var seconds = time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        var millis = (int)(((unixMillis % 1000) + 1000) % 1000);
        return millis == 0 ? seconds + "Z" : $"{seconds}.{millis:000}Z";
    }

    /// <summary>A Duration as protobuf's JSON mapping writes it: seconds, then 0 or 3 fractional digits for whole
    /// milliseconds (protobuf uses 0, 3, 6 or 9), then <c>s</c>; e.g. 1500 → <c>1.500s</c>, 2000 → <c>2s</c>,
    /// -1500 → <c>-1.500s</c>.</summary>
    public static string DurationJson(long millis)
    {
        var sign = millis < 0 ? "-" : "";
        var magnitude = Math.Abs(millis);
        var seconds = magnitude / 1000;
        var fraction = magnitude % 1000;
        return fraction == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{sign}{seconds}s")
            : string.Create(CultureInfo.InvariantCulture, $"{sign}{seconds}.{fraction:000}s");
    }
}
