# frozen_string_literal: true

# tests/contract/ruby_producer.rb: runs the job vectors through the Ruby client.
#   ruby ruby_producer.rb VECTORS.jsonl...      (CF_TEST_REDIS_URL set: through Redis)
# Writes one JSON line per job vector: {"name", "hex", "jid"} for an enqueued job (the bytes as
# read back from Redis, or as built when there is no Redis), {"name", "refused": {code, field,
# message}} for a local refusal, or {"name", "error"} for anything else. Invalid jobs are given
# a client whose Redis raises on use, which proves the refusal happens before any I/O.

$LOAD_PATH.unshift File.expand_path("../../clients/ruby/lib", __dir__)
require "chronoforge/client"
require "json"
require "securerandom"

# A Redis stand-in that fails the vector if the client talks to it.
class NoRedis
  def pipelined(*)
    raise "the client used Redis before refusing the job"
  end
end

def materialize(value)
  case value
  when Array then value.map { |v| materialize(v) }
  when Hash
    if value.size == 1 && value.keys.first.start_with?("$")
      tag, arg = value.first
      case tag
      when "$bytes" then return [arg].pack("H*")
      when "$badutf8" then return [arg].pack("H*").force_encoding(Encoding::UTF_8)
      when "$float" then return { "nan" => Float::NAN, "inf" => Float::INFINITY, "-inf" => -Float::INFINITY }.fetch(arg)
      when "$time" then return Time.at(arg)
      when "$repeat" then return arg[0] * arg[1]
      when "$nest" then return (1..arg[0]).reduce(materialize(arg[1])) { |acc, _| [acc] }
      when "$nestmap" then return (1..arg[0]).reduce(materialize(arg[2])) { |acc, _| { arg[1] => acc } }
      end
    end
    value.transform_values { |v| materialize(v) }
  else value
  end
end

def call(client, job)
  args = {}
  args[:queue] = job["queue"] if job.key?("queue")
  if job["retry_workflow"]
    client.retry_later(job["class"], job["key"], **args)
  else
    args[:options] = job["options"] if job.key?("options")
    kwargs = job.key?("kwargs") ? [job["kwargs"]] : []
    client.enqueue(job["class"], job["key"], *kwargs, **args)
  end
end

redis_url = ENV.fetch("CF_TEST_REDIS_URL", "")
redis = redis_url.empty? ? nil : Chronoforge::RedisURL.connect(redis_url) # redis+cluster:// too
prefix = "cf:contract:rb:#{Process.pid}:#{SecureRandom.hex(3)}"

ARGV.each do |path|
  File.foreach(path) do |line|
    vec = JSON.parse(line)
    next unless vec.key?("job")

    job = materialize(vec["job"])
    out = { "name" => vec["name"] }
    begin
      if vec.key?("refuse")
        call(Chronoforge::Client.new(redis: NoRedis.new, prefix: prefix), job)
        out["error"] = "accepted an invalid job"
      elsif redis
        client = Chronoforge::Client.new(redis: redis, prefix: prefix)
        jid = call(client, job)
        queue = job.fetch("queue", "default")
        items = redis.lrange(client.ready_key(queue), 0, -1)
        queues = redis.smembers(client.queues_key)
        [client.ready_key(queue), client.queues_key].each { |k| redis.del(k) } # two slots on a cluster
        raise "expected 1 envelope in #{client.ready_key(queue)}, found #{items.size}" unless items.size == 1
        raise "queue #{queue} not registered in #{client.queues_key}: #{queues}" unless queues == [queue]

        out.merge!("hex" => items[0].unpack1("H*"), "jid" => jid)
      else
        args = job.key?("kwargs") ? [job["kwargs"]] : []
        jid, bytes = Chronoforge::Envelope.build(job["class"], job["key"], kwargs: args.first || {},
                                                                           queue: job.fetch("queue", "default"),
                                                                           options: job.fetch("options", {}),
                                                                           retry_workflow: job["retry_workflow"] == true)
        out.merge!("hex" => bytes.unpack1("H*"), "jid" => jid)
      end
    rescue Chronoforge::InvalidJob => e
      out["refused"] = { "code" => e.code, "field" => e.field, "message" => e.message,
                         "kind" => e.is_a?(ArgumentError) ? "ArgumentError" : e.class.name }
    rescue StandardError => e
      out["error"] = "#{e.class}: #{e.message}"
    end
    puts JSON.generate(out)
  end
end
