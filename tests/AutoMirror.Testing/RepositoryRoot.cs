namespace AutoMirror.Testing;

/// <summary>The checkout's top folder, found by walking up to AutoMirror.sln, so tests need no machine paths.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "AutoMirror.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("AutoMirror.sln not found above " + AppContext.BaseDirectory);
    }
}
