# frozen_string_literal: true

require "redis"
require_relative "control"
require_relative "envelope"
require_relative "redis_url"
require_relative "version"

module Chronoforge
  # Enqueues chronoforge workflows straight into Redis (SPEC §2): SADD P:queues Q, then LPUSH
  # P:{Q}:ready ENVELOPE, or ZADD P:{Q}:scheduled DUE_MS ENVELOPE for a delayed first run.
  # On a Redis Cluster (a redis+cluster:// URL or a cluster client) the same commands go one by
  # one (see push_to_cluster).
  #
  #   client = Chronoforge::Client.new(redis: "redis://127.0.0.1:6379/0")
  #   client = Chronoforge::Client.new(redis: "redis+cluster://:pw@10.0.0.1:6379,10.0.0.2:6379")
  #   jid = client.enqueue("OrderWorkflow", "order-42", { "order_id" => 42 }, queue: "orders")
  class Client
    DEFAULT_PREFIX = "chronoforge"
    BULK_KEYS = %i[class workflow_class key kwargs queue wait at options].freeze

    attr_reader :redis, :prefix

    # redis: a Redis URL (String; redis+cluster://host1:port1,host2:port2 for a Redis Cluster) or
    # an existing Redis object (anything with #pipelined; a cluster one: Redis.new(cluster: [...])).
    # prefix: the deployment's key prefix (the worker's --prefix / CHRONOFORGE_PREFIX).
    def initialize(redis: ENV.fetch("CHRONOFORGE_REDIS_URL", "redis://127.0.0.1:6379/0"),
                   prefix: ENV.fetch("CHRONOFORGE_PREFIX", DEFAULT_PREFIX),
                   max_envelope_bytes: Envelope::MAX_BYTES)
      @redis =
        if redis.is_a?(String)
          RedisURL.connect(redis)
        elsif redis.respond_to?(:pipelined)
          redis
        else
          raise ArgumentError, "redis: must be a Redis URL or a Redis object, got #{redis.class}"
        end
      unless prefix.is_a?(String) && prefix.bytesize.between?(1, 128) && !prefix.match?(/[{}\0]/)
        raise ArgumentError, "prefix: must be 1-128 bytes without braces or NUL, got #{prefix.inspect}"
      end

      @prefix = prefix
      @max_envelope_bytes = max_envelope_bytes
      @cluster = RedisURL.cluster?(@redis)
    end

    # True when the client talks to a Redis Cluster.
    def cluster?
      @cluster
    end

    # Enqueues one run of workflow_class for key and returns its jid (24 hex characters).
    # kwargs is one Hash (so a workflow may have an argument named queue); wait: (seconds, a
    # duration String like "30s", or an ActiveSupport::Duration) or at: (a Time, Unix seconds or
    # an ISO-8601 String) delay the first run. Raises Chronoforge::InvalidJob (an ArgumentError)
    # for anything the worker would refuse, before talking to Redis.
    def enqueue(workflow_class, key, kwargs = {}, queue: "default", wait: nil, at: nil, options: {})
      job = prepare(workflow_class, key, kwargs, queue, wait, at, options)
      push([job])
      job[:jid]
    end

    # Enqueues many jobs in one round trip and returns their jids in order. Each job is a Hash
    # with :class (or :workflow_class), :key and optionally :kwargs, :queue, :wait, :at, :options.
    # Every job is checked before anything is sent. Not atomic: if the connection breaks midway
    # some jobs may have been enqueued; enqueueing them again is harmless, because a workflow
    # is identified by its class and key.
    def enqueue_bulk(jobs)
      raise ArgumentError, "enqueue_bulk takes an Array of Hashes, got #{jobs.class}" unless jobs.is_a?(Array)

      prepared = jobs.each_with_index.map do |job, i|
        raise ArgumentError, "jobs[#{i}] must be a Hash, got #{job.class}" unless job.is_a?(Hash)

        unknown = job.keys - BULK_KEYS
        raise ArgumentError, "jobs[#{i}]: unknown keys #{unknown.inspect} (use #{BULK_KEYS.inspect})" unless unknown.empty?

        begin
          prepare(job.fetch(:class) { job[:workflow_class] }, job[:key], job.fetch(:kwargs, {}),
                  job.fetch(:queue, "default"), job[:wait], job[:at], job.fetch(:options, {}))
        rescue InvalidJob => e
          raise InvalidJob.new(e.code, e.field, "jobs[#{i}]: #{e.message}")
        end
      end
      push(prepared) unless prepared.empty?
      prepared.map { |j| j[:jid] }
    end

    # Asks the worker to resume a stalled or failed workflow (SPEC §4): pushes an envelope with
    # retry_workflow: true. The worker decides; a workflow that is not retryable is left as is.
    # requested_by (who asks; the worker records "retry_later" without it) and reason go into the
    # workflow's $workflow_retry$ row.
    def retry_later(workflow_class, key, queue: "default", requested_by: nil, reason: nil)
      jid, bytes = Envelope.build(workflow_class, key, queue: queue, retry_workflow: true,
                                                       requested_by: requested_by, reason: reason,
                                                       max_bytes: @max_envelope_bytes)
      push([{ jid: jid, queue: queue.to_s, bytes: bytes, due_ms: nil }])
      jid
    end

    # Sends the signal name to the workflow (SPEC §2, control requests; §4, signals) and waits up
    # to timeout seconds for a worker's answer: a ControlResult, accepted (stored in Postgres;
    # the workflow's cf_await_signal of that name takes it), refused (code: unknown_workflow,
    # finished, ...) or pending (no worker answered yet; it stays queued). payload is any
    # JSON-serialisable value (or pass json_text:), at most 64 KiB as JSON; id (random when
    # absent) makes a resend count once; queue is the workflow's queue.
    def signal(workflow_class, key, name, payload = nil, id: nil, queue: "default", by: nil, json_text: nil,
               timeout: 5.0)
      Envelope.refuse("bad_value", "payload", "give payload or json_text:, not both") if json_text && !payload.nil?
      text = json_text || Control.payload_json(payload)
      rid, bytes = Control.build("signal", workflow_class, key, prefix: @prefix, id: id, by: by, name: name,
                                                                payload: text)
      control(Envelope.queue_name(queue), rid, bytes, timeout)
    end

    # Asks the fleet to cancel the workflow (a control request with op "cancel") and waits up to
    # timeout seconds: a ControlResult, accepted, refused (e.g. it has finished) or pending.
    def cancel(workflow_class, key, reason: nil, id: nil, queue: "default", by: nil, timeout: 5.0)
      rid, bytes = Control.build("cancel", workflow_class, key, prefix: @prefix, id: id, by: by, reason: reason)
      control(Envelope.queue_name(queue), rid, bytes, timeout)
    end

    def control_key(queue)
      "#{@prefix}:{#{queue}}:control"
    end

    def reply_key(request_id)
      "#{@prefix}:reply:#{request_id}"
    end

    # The envelope bytes enqueue would push, with its jid: [jid, bytes]. For tests and tools.
    def build_envelope(workflow_class, key, kwargs = {}, queue: "default", options: {})
      Envelope.build(workflow_class, key, kwargs: kwargs, queue: queue, options: options,
                                          max_bytes: @max_envelope_bytes)
    end

    def ready_key(queue)
      "#{@prefix}:{#{queue}}:ready"
    end

    def scheduled_key(queue)
      "#{@prefix}:{#{queue}}:scheduled"
    end

    def queues_key
      "#{@prefix}:queues"
    end

    private

    def prepare(workflow_class, key, kwargs, queue, wait, at, options)
      raise InvalidJob.new("bad_value", "at", "give wait: or at:, not both") if wait && at

      due_ms =
        if !wait.nil?
          now_ms + (Envelope.wait_seconds(wait) * 1000).round
        elsif !at.nil?
          Envelope.at_ms(at)
        end
      jid, bytes = Envelope.build(workflow_class, key, kwargs: kwargs, queue: queue, options: options,
                                                       max_bytes: @max_envelope_bytes)
      { jid: jid, queue: queue.to_s, bytes: bytes, due_ms: due_ms }
    end

    def now_ms
      (Time.now.to_r * 1000).round
    end

    def control(queue, rid, bytes, timeout)
      @redis.lpush(control_key(queue), bytes)
      got = @redis.brpop(reply_key(rid), timeout: [timeout.to_f, 0.001].max)
      return ControlResult.new(outcome: "pending", id: rid) if got.nil?

      Control.parse_reply(got[1])
    end

    def push(jobs)
      queues = jobs.map { |j| j[:queue] }.uniq
      return push_to_cluster(queues, jobs) if @cluster

      @redis.pipelined do |pipe|
        pipe.sadd(queues_key, queues)
        jobs.each do |j|
          if j[:due_ms]
            pipe.zadd(scheduled_key(j[:queue]), j[:due_ms], j[:bytes])
          else
            pipe.lpush(ready_key(j[:queue]), j[:bytes])
          end
        end
      end
    end

    # On a Redis Cluster P:queues and each queue's keys (one slot per queue, SPEC §2) may sit on
    # different nodes, and ruby-redis refuses a pipeline that spans nodes. So: SADD first (a
    # queue is registered before anything is pushed to it, as in the pipeline), then one
    # variadic LPUSH (same order as one LPUSH per job) or ZADD per queue. Each command touches
    # one slot and is atomic, so the client's MOVED/ASK handling re-sends a whole command or
    # nothing; a pipeline re-sent after an ASK midway would push its first envelopes twice.
    # Round trips: 1 + one or two per queue, where a pipeline takes one.
    def push_to_cluster(queues, jobs)
      @redis.sadd(queues_key, queues)
      jobs.group_by { |j| [j[:queue], j[:due_ms].nil?] }.each do |(queue, ready), group|
        if ready
          @redis.lpush(ready_key(queue), group.map { |j| j[:bytes] })
        else
          @redis.zadd(scheduled_key(queue), group.map { |j| [j[:due_ms], j[:bytes]] })
        end
      end
    end
  end
end
