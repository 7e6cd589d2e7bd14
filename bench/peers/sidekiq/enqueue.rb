# bench/peers/sidekiq/enqueue.rb N: pushes N CfBenchNoop jobs with push_bulk, 1,000 per call.
require_relative "worker"
n = Integer(ARGV.fetch(0))
Sidekiq.redis { |r| r.del("queue:cfbench", "cfbench:t:0", "cfbench:t:#{n - 1}") }
(0...n).each_slice(1000) do |s|
  Sidekiq::Client.push_bulk("class" => CfBenchNoop, "args" => s.map { |i| [i, n] })
end
