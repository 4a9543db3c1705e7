// Package topology holds the test and benchmarks of the distributed cloud
// tier on one machine: the real `ifc` binary started as separate processes
// (two `ifc cloud api` replicas, a resize+filter worker and a detect worker
// on Triton) sharing PostgreSQL, MinIO and Kafka. It has no non-test code.
//
// Decisions:
//   - Processes, not goroutines: the binary is built once per test run and
//     every component is a child process with its own log file, so the test
//     sees what an operator sees (flags, IFC_* environment, signals, ports)
//     and a killed worker really loses its connections.
//   - Every run uses its own PostgreSQL schema (search_path), MinIO bucket
//     and Kafka topic, so runs never share state and the dev servers need
//     no reset between runs.
//   - Readiness is polled (TCP accept for workers, /readyz for the API,
//     which includes the live event subscription), never slept on.
//   - The progress benchmark also runs over NATS: the test process starts
//     an embedded nats-server (cloud/events/natsbus) and both replicas
//     connect to its client URL, the same thing a separate nats-server
//     would give them.
//
// The servers come from deploy/dev/backends start (IFC_TEST_POSTGRES_URL,
// IFC_TEST_MINIO_URL, IFC_TEST_KAFKA_URL, IFC_TEST_TRITON_URL). Method and
// numbers: docs/topology.md.
package topology
