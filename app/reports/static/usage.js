/* MotCua: the online-usage ratio per procedure as a Chart.js bar chart, over the JSON the page embeds.
 * The table under it holds the same numbers (and more); without JavaScript the page shows only the table. */
(function () {
  'use strict';

  function start() {
    var source = document.getElementById('usage-data');
    var canvas = document.getElementById('usage-chart');
    if (!source || !canvas || typeof window.Chart !== 'function') return;
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: data.labels,
        datasets: [{ label: 'Tỷ lệ sử dụng trực tuyến (%)', data: data.online_ratio, backgroundColor: '#1d70b8' }]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, indexAxis: 'y',
        scales: { x: { min: 0, max: 100, title: { display: true, text: '%' } } },
        plugins: {
          tooltip: {
            callbacks: {
              title: function (items) {
                var i = items[0].dataIndex;
                return data.labels[i] + ' — ' + data.names[i];
              },
              label: function (item) {
                return item.raw === null ? 'Chưa có hồ sơ' : item.raw.toLocaleString('vi-VN') + ' %';
              }
            }
          }
        }
      }
    });
    canvas.setAttribute('data-ready', 'true');
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
