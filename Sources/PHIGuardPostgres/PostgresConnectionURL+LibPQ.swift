extension PostgresConnectionURL {
    /// The libpq environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`) naming this URL, for running `pg_dump` and `psql` with the same server, user
    /// and TLS verification. Holds the password: pass it to a child process only, never print it.
    package var libpqEnvironment: [String: String] {
        var environment = [
            "PGHOST": host, "PGPORT": String(port), "PGUSER": username, "PGSSLMODE": sslMode.rawValue,
            "PGCONNECT_TIMEOUT": "10",
        ]
        if let password { environment["PGPASSWORD"] = password }
        if let database { environment["PGDATABASE"] = database }
        if let rootCertificatePath { environment["PGSSLROOTCERT"] = rootCertificatePath }
        return environment
    }

    /// This URL naming database `name` instead (same server, user, password and TLS), for a
    /// scratch database made on the same server.
    package func replacingDatabase(_ name: String) -> PostgresConnectionURL {
        var url = self
        url.database = name
        return url
    }
}
