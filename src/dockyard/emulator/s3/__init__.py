"""S3 on the emulator's port: buckets and objects kept under the state directory, rest-xml on the wire."""
