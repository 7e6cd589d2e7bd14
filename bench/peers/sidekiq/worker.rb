# bench/peers/sidekiq/worker.rb: a Sidekiq no-op job that records the wall time of the first
# and the last job (bench/run.sh: rate = (N - 1) / (t_last - t_first)). REDIS_URL from the env.
require "sidekiq"
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)
Sidekiq.configure_server { |c| c.redis = { url: ENV.fetch("REDIS_URL") } }
Sidekiq.configure_client { |c| c.redis = { url: ENV.fetch("REDIS_URL") } }

class CfBenchNoop
  include Sidekiq::Worker
  sidekiq_options retry: false, queue: "cfbench"
  def perform(i, n)
    return unless i.zero? || i == n - 1
    Sidekiq.redis { |r| r.set("cfbench:t:#{i}", Process.clock_gettime(Process::CLOCK_REALTIME).to_s) }
  end
end
